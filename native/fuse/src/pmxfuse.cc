// Thin N-API binding over the libfuse3 low-level API, served from Node's own event loop.
//
// The session fd is polled by libuv on the JS thread; each request is handed to one JS `dispatch` function on that
// same thread (no worker thread, no hand-off). Numeric arguments travel through a Float64Array shared with JS
// (`io`), so a request costs one napi call plus one string per name. JS answers by numeric id from a slot table
// (never a raw fuse_req_t), at once or later. All filesystem logic lives in TypeScript (src/fuse/native.ts).
//
// The one extra thread only issues cache invalidations: fuse_lowlevel_notify_inval_* can block inside the kernel
// until a READ of that inode (possibly still queued in /dev/fuse, unseen by us) is answered; on the event-loop
// thread that would be a deadlock (D state), on its own thread it is a wait.

#include <sched.h>
#include <time.h>
#include <napi.h>
#include <uv.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// Must match OP in src/fuse/native.ts.
enum Op {
  OP_INIT = 0, OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR,
  OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC, OP_OPENDIR,
  OP_READDIR, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR,
  OP_CREATE, OP_INTERRUPT, OP_DISCONNECT, OP_NOTIFIED,
};

// io[] layout: request header, request arguments, reply values.
enum { IO_OP = 0, IO_ID, IO_INO, IO_UID, IO_GID, IO_PID, IO_A, IO_B, IO_C, IO_D, IO_E, IO_F, IO_G, IO_H, IO_OUT = 16,
       IO_LEN = 48 };

constexpr uint32_t SLOT_BITS = 20;
constexpr uint32_t SLOT_MASK = (1u << SLOT_BITS) - 1;

struct Slot {
  fuse_req_t req = nullptr;
  uint32_t gen = 1;
};

struct Notice {
  bool entry;
  uint64_t ino;
  int64_t off, len;
  std::string name;
  double token;
};

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

  // libfuse callbacks (static trampolines below call these)
  uint32_t Begin(fuse_req_t req, int op, fuse_ino_t ino);
  void Call(uint32_t id, const char* s1 = nullptr, const char* s2 = nullptr);
  void OnInit(fuse_conn_info* conn);
  void Interrupted(uint32_t id) { interrupts_.push_back(id); }
  double* io() { return io_; }
  bool forgetWanted() const { return forget_; }
  const char* rx() const { return rx_; }
  size_t rxLen() const { return rxLen_; }

 private:
  Napi::Value Mount(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value ReplyErr(const Napi::CallbackInfo& info);
  Napi::Value ReplyEntry(const Napi::CallbackInfo& info);
  Napi::Value ReplyCreate(const Napi::CallbackInfo& info);
  Napi::Value ReplyAttr(const Napi::CallbackInfo& info);
  Napi::Value ReplyOpen(const Napi::CallbackInfo& info);
  Napi::Value ReplyBuf(const Napi::CallbackInfo& info);
  Napi::Value ReplyWrite(const Napi::CallbackInfo& info);
  Napi::Value ReplyReadlink(const Napi::CallbackInfo& info);
  Napi::Value ReplyStatfs(const Napi::CallbackInfo& info);
  Napi::Value ReplyXattr(const Napi::CallbackInfo& info);
  Napi::Value Notify(const Napi::CallbackInfo& info);
  Napi::Value InvalAttr(const Napi::CallbackInfo& info);
  Napi::Value Pending(const Napi::CallbackInfo& info);

  fuse_req_t Take(const Napi::CallbackInfo& info);
  void FillStat(struct stat* st, int o);
  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnAsync(uv_async_t* h);
  void Serve();
  void Disconnect(int why);
  void Shutdown();
  void NotifierLoop();

  napi_env env_ = nullptr;
  fuse_session* se_ = nullptr;
  fuse_lowlevel_ops ops_{};
  std::string mountpoint_;
  uv_poll_t* poll_ = nullptr;
  uv_async_t* async_ = nullptr;
  fuse_buf buf_{};
  char* rx_ = nullptr;
  size_t rxLen_ = 0;
  double* io_ = nullptr;
  Napi::Reference<Napi::Float64Array> ioRef_;
  Napi::Reference<Napi::ArrayBuffer> rxRef_;
  Napi::FunctionReference dispatch_;
  Napi::AsyncContext* actx_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> interrupts_;
  uint32_t pending_ = 0;
  uint32_t maxWrite_ = 1 << 20;
  bool forget_ = false;
  bool open_ = false;       // mounted and serving
  bool dead_ = false;       // kernel connection gone (unmounted or aborted)

  // notifier thread
  std::thread notifier_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Notice> queue_;
  std::vector<std::pair<double, int>> done_;
  bool stop_ = false;
  std::atomic<bool> notifying_{false};
  bool draining_ = false;   // shutting down: answer EIO without calling JS
};

inline Session* S(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }

void OnInterrupt(fuse_req_t req, void* data) {
  // Called by libfuse while it processes FUSE_INTERRUPT (with the request's lock held): only record it.
  S(req)->Interrupted(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data)));
}

uint32_t Session::Begin(fuse_req_t req, int op, fuse_ino_t ino) {
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[idx];
  s.req = req;
  pending_++;
  // ids stay below 2^53: gen < 2^32, idx < 2^20
  double id = static_cast<double>(s.gen) * (1 << SLOT_BITS) + idx;
  const fuse_ctx* c = fuse_req_ctx(req);
  io_[IO_OP] = op;
  io_[IO_ID] = id;
  io_[IO_INO] = static_cast<double>(ino);
  io_[IO_UID] = c->uid;
  io_[IO_GID] = c->gid;
  io_[IO_PID] = c->pid;
  fuse_req_interrupt_func(req, OnInterrupt, reinterpret_cast<void*>(static_cast<uintptr_t>(idx)));
  return idx;
}

void Session::Call(uint32_t idx, const char* s1, const char* s2) {
  if (draining_) {
    if (idx != UINT32_MAX && idx < slots_.size() && slots_[idx].req) {
      fuse_req_t req = slots_[idx].req;
      slots_[idx].req = nullptr;
      slots_[idx].gen++;
      free_.push_back(idx);
      pending_--;
      fuse_reply_err(req, EIO);
    }
    return;
  }
  napi_value argv[2];
  size_t argc = 0;
  if (s1) napi_create_string_utf8(env_, s1, NAPI_AUTO_LENGTH, &argv[argc++]);
  if (s2) napi_create_string_utf8(env_, s2, NAPI_AUTO_LENGTH, &argv[argc++]);
  napi_value recv, fn, result;
  napi_get_undefined(env_, &recv);
  fn = dispatch_.Value();
  napi_status st = napi_call_function(env_, recv, fn, argc, argv, &result);
  if (st == napi_pending_exception) {
    // The JS wrapper answers EIO for throwing handlers; an exception here is a bug in the wrapper itself.
    napi_value exc;
    napi_get_and_clear_last_exception(env_, &exc);
    if (idx != UINT32_MAX && idx < slots_.size() && slots_[idx].req) {
      fuse_req_t req = slots_[idx].req;
      slots_[idx].req = nullptr;
      slots_[idx].gen++;
      free_.push_back(idx);
      pending_--;
      fuse_reply_err(req, EIO);
    }
    napi_fatal_exception(env_, exc);
  }
}

// ---- libfuse low-level operations: copy arguments into io[] and call JS ----

void ll_init(void* ud, fuse_conn_info* conn) { static_cast<Session*>(ud)->OnInit(conn); }

void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_LOOKUP, parent), name);
}

void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Session* s = S(req);
  if (s->forgetWanted()) {
    double* io = s->io();
    io[IO_OP] = OP_FORGET;
    io[IO_ID] = 0;
    io[IO_INO] = static_cast<double>(ino);
    io[IO_A] = static_cast<double>(nlookup);
    s->Call(UINT32_MAX);
  }
  fuse_reply_none(req);
}

void ll_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Session* s = S(req);
  if (s->forgetWanted()) {
    double* io = s->io();
    for (size_t i = 0; i < count; i++) {
      io[IO_OP] = OP_FORGET;
      io[IO_ID] = 0;
      io[IO_INO] = static_cast<double>(forgets[i].ino);
      io[IO_A] = static_cast<double>(forgets[i].nlookup);
      s->Call(UINT32_MAX);
    }
  }
  fuse_reply_none(req);
}

void ll_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_GETATTR, ino);
  s->io()[IO_A] = fi ? static_cast<double>(fi->fh) : -1;
  s->Call(idx);
}

void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_SETATTR, ino);
  double* io = s->io();
  io[IO_A] = to_set;
  io[IO_B] = attr->st_mode;
  io[IO_C] = attr->st_uid;
  io[IO_D] = attr->st_gid;
  io[IO_E] = static_cast<double>(attr->st_size);
  io[IO_F] = static_cast<double>(attr->st_atim.tv_sec);
  io[IO_G] = static_cast<double>(attr->st_mtim.tv_sec);
  io[IO_H] = fi ? static_cast<double>(fi->fh) : -1;
  s->Call(idx);
}

void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_READLINK, ino));
}

void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_MKNOD, parent);
  s->io()[IO_A] = mode;
  s->io()[IO_B] = static_cast<double>(rdev);
  s->Call(idx, name);
}

void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_MKDIR, parent);
  s->io()[IO_A] = mode;
  s->Call(idx, name);
}

void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_UNLINK, parent), name);
}

void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_RMDIR, parent), name);
}

void ll_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_SYMLINK, parent), name, link);
}

void ll_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_RENAME, parent);
  s->io()[IO_A] = static_cast<double>(newparent);
  s->io()[IO_B] = flags;
  s->Call(idx, name, newname);
}

void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_LINK, ino);
  s->io()[IO_A] = static_cast<double>(newparent);
  s->Call(idx, newname);
}

void ll_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_OPEN, ino);
  s->io()[IO_A] = fi->flags;
  s->Call(idx);
}

void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_READ, ino);
  double* io = s->io();
  io[IO_A] = static_cast<double>(fi->fh);
  io[IO_B] = static_cast<double>(size);
  io[IO_C] = static_cast<double>(off);
  s->Call(idx);
}

void ll_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_FLUSH, ino);
  s->io()[IO_A] = static_cast<double>(fi->fh);
  s->Call(idx);
}

void ll_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_RELEASE, ino);
  s->io()[IO_A] = static_cast<double>(fi->fh);
  s->io()[IO_B] = fi->flags;
  s->Call(idx);
}

void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_FSYNC, ino);
  s->io()[IO_A] = static_cast<double>(fi->fh);
  s->io()[IO_B] = datasync;
  s->Call(idx);
}

void ll_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_OPENDIR, ino);
  s->io()[IO_A] = fi->flags;
  s->Call(idx);
}

void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_READDIR, ino);
  double* io = s->io();
  io[IO_A] = static_cast<double>(fi->fh);
  io[IO_B] = static_cast<double>(size);
  io[IO_C] = static_cast<double>(off);
  s->Call(idx);
}

void ll_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_RELEASEDIR, ino);
  s->io()[IO_A] = static_cast<double>(fi->fh);
  s->Call(idx);
}

void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_FSYNCDIR, ino);
  s->io()[IO_A] = static_cast<double>(fi->fh);
  s->io()[IO_B] = datasync;
  s->Call(idx);
}

void ll_statfs(fuse_req_t req, fuse_ino_t ino) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_STATFS, ino));
}

void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char*, size_t size, int flags) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_SETXATTR, ino);
  s->io()[IO_A] = static_cast<double>(size);
  s->io()[IO_B] = flags;
  s->Call(idx, name);
}

void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_GETXATTR, ino);
  s->io()[IO_A] = static_cast<double>(size);
  s->Call(idx, name);
}

void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_LISTXATTR, ino);
  s->io()[IO_A] = static_cast<double>(size);
  s->Call(idx);
}

void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Session* s = S(req);
  s->Call(s->Begin(req, OP_REMOVEXATTR, ino), name);
}

void ll_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Session* s = S(req);
  uint32_t idx = s->Begin(req, OP_CREATE, parent);
  s->io()[IO_A] = mode;
  s->io()[IO_B] = fi->flags;
  s->Call(idx, name);
}

void ll_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi);

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops o{};
  o.init = ll_init;
  o.lookup = ll_lookup;
  o.forget = ll_forget;
  o.forget_multi = ll_forget_multi;
  o.getattr = ll_getattr;
  o.setattr = ll_setattr;
  o.readlink = ll_readlink;
  o.mknod = ll_mknod;
  o.mkdir = ll_mkdir;
  o.unlink = ll_unlink;
  o.rmdir = ll_rmdir;
  o.symlink = ll_symlink;
  o.rename = ll_rename;
  o.link = ll_link;
  o.open = ll_open;
  o.read = ll_read;
  o.write = ll_write;
  o.flush = ll_flush;
  o.release = ll_release;
  o.fsync = ll_fsync;
  o.opendir = ll_opendir;
  o.readdir = ll_readdir;
  o.releasedir = ll_releasedir;
  o.fsyncdir = ll_fsyncdir;
  o.statfs = ll_statfs;
  o.setxattr = ll_setxattr;
  o.getxattr = ll_getxattr;
  o.listxattr = ll_listxattr;
  o.removexattr = ll_removexattr;
  o.create = ll_create;
  return o;
}

// ---- Session ----

Napi::Function Session::Init(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceMethod<&Session::Mount>("mount"),
                         InstanceMethod<&Session::Close>("close"),
                         InstanceMethod<&Session::ReplyErr>("replyErr"),
                         InstanceMethod<&Session::ReplyEntry>("replyEntry"),
                         InstanceMethod<&Session::ReplyCreate>("replyCreate"),
                         InstanceMethod<&Session::ReplyAttr>("replyAttr"),
                         InstanceMethod<&Session::ReplyOpen>("replyOpen"),
                         InstanceMethod<&Session::ReplyBuf>("replyBuf"),
                         InstanceMethod<&Session::ReplyWrite>("replyWrite"),
                         InstanceMethod<&Session::ReplyReadlink>("replyReadlink"),
                         InstanceMethod<&Session::ReplyStatfs>("replyStatfs"),
                         InstanceMethod<&Session::ReplyXattr>("replyXattr"),
                         InstanceMethod<&Session::Notify>("notify"),
                         InstanceMethod<&Session::InvalAttr>("invalAttr"),
                         InstanceMethod<&Session::Pending>("pending"),
                     });
}

// new Session(dispatch, io: Float64Array, rx: ArrayBuffer)
Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  dispatch_ = Napi::Persistent(info[0].As<Napi::Function>());
  auto io = info[1].As<Napi::Float64Array>();
  if (io.ElementLength() < IO_LEN) throw Napi::Error::New(env, "io array too short");
  io_ = io.Data();
  ioRef_ = Napi::Persistent(io);
  auto rx = info[2].As<Napi::ArrayBuffer>();
  rx_ = static_cast<char*>(rx.Data());
  rxLen_ = rx.ByteLength();
  rxRef_ = Napi::Persistent(rx);
  // libfuse reads se->bufsize bytes into buf.mem: 256 pages + one header page (FUSE_MAX_MAX_PAGES).
  if (rxLen_ < 256 * static_cast<size_t>(getpagesize()) + 4096) throw Napi::Error::New(env, "rx buffer too short");
  actx_ = new Napi::AsyncContext(env, "pmxfuse");
}

Session::~Session() {
  // JS closes explicitly; this only covers a session collected while still mounted (process exit).
  if (se_) Shutdown();
  delete actx_;
}

// mount(mountpoint, args: string[], maxWrite, wantForget, wantFlush)
Napi::Value Session::Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (se_) throw Napi::Error::New(env, "already mounted");
  mountpoint_ = info[0].As<Napi::String>().Utf8Value();
  auto arr = info[1].As<Napi::Array>();
  maxWrite_ = info[2].As<Napi::Number>().Uint32Value();
  forget_ = info[3].As<Napi::Boolean>().Value();
  // Without a flush handler the kernel stops sending FLUSH; close() then cannot report a commit error.
  ops_ = MakeOps();
  if (!info[4].As<Napi::Boolean>().Value()) ops_.flush = nullptr;
  std::vector<std::string> strs{"pmxcfs"};
  for (uint32_t i = 0; i < arr.Length(); i++) strs.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  std::vector<char*> argv;
  for (auto& s : strs) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  se_ = fuse_session_new(&args, &ops_, sizeof(ops_), this);
  if (!se_) throw Napi::Error::New(env, "fuse_session_new failed (bad options?)");
  if (fuse_session_mount(se_, mountpoint_.c_str()) != 0) {
    fuse_session_destroy(se_);
    se_ = nullptr;
    throw Napi::Error::New(env, "fuse_session_mount failed: " + mountpoint_);
  }
  int fd = fuse_session_fd(se_);
  // Non-blocking: receive_buf answers -EAGAIN when the queue is empty, so one poll wake-up drains a batch.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  buf_.mem = rx_;
  buf_.size = rxLen_;
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  uv_poll_init(loop, poll_, fd);
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnPoll);
  async_ = new uv_async_t;
  uv_async_init(loop, async_, OnAsync);
  async_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  open_ = true;
  Ref();  // keep the object alive while mounted, whatever JS holds
  return env.Undefined();
}

void Session::OnInit(fuse_conn_info* conn) {
  // -o max_write is refused by libfuse 3.14: the init callback is the place (libfuse clamps it to its buffer).
  conn->max_write = maxWrite_;
  // Writeback cache would let other readers see data the daemon has not committed; splice is useless here.
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  // O_TRUNC must reach OPEN: without this the kernel truncates by a separate SETATTR without a file handle, which
  // the filesystem has to commit on its own (readers would see the empty file, a refused write would leave it).
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // The store keeps whole seconds.
  conn->time_gran = 1000000000;
  io_[IO_OP] = OP_INIT;
  io_[IO_ID] = 0;
  io_[IO_A] = conn->max_write;
  io_[IO_B] = conn->capable;
  io_[IO_C] = conn->want;
  io_[IO_D] = conn->proto_major * 1000 + conn->proto_minor;
  Call(UINT32_MAX);
}

void Session::OnPoll(uv_poll_t* h, int status, int) {
  Session* s = static_cast<Session*>(h->data);
  if (status < 0) {
    // UV_EBADF/EIO after `umount -f` or an aborted connection.
    s->Disconnect(-status);
    return;
  }
  s->Serve();
}

void Session::Serve() {
  Napi::HandleScope hs{Napi::Env{env_}};
  // One callback scope per batch: promise continuations (microtasks) run when it closes, like after any I/O event.
  Napi::CallbackScope cs{Napi::Env{env_}, *actx_};
  // Bounded so timers and other I/O are not starved; libuv polls level-triggered, the rest comes next tick.
  // (One request per wake-up was measured slower: a libuv loop turn costs more than the read that finds EAGAIN.)
  // After a busy batch, keep reading for up to PMXCFS_FUSE_SPIN_US (default 50 us) before sleeping in the loop: on a
  // VM, waking a halted CPU for the client's next request costs ~60 us, more than the wait. Measured here: unpinned
  // reads 2.5x, stats 3x, creates 1.8x faster; pinned (client on the same CPU, which sched_yield lets run) the same.
  static const long spinNs = [] {
    const char* v = getenv("PMXCFS_FUSE_SPIN_US");
    return (v ? atol(v) : 50L) * 1000L;
  }();
  struct timespec since {};
  bool spinning = false;
  for (int n = 0; n < 64 && open_; n++) {
    int res = fuse_session_receive_buf(se_, &buf_);
    if (res == -EAGAIN) {
      // Only while every request is answered: a deferred reply (or its microtask) must not wait for the spin.
      if (spinNs <= 0 || n == 0 || pending_ != 0) break;
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!spinning) {
        spinning = true;
        since = now;
      }
      if ((now.tv_sec - since.tv_sec) * 1000000000L + (now.tv_nsec - since.tv_nsec) > spinNs) break;
      sched_yield();  // a client on this CPU gets to run (and send) meanwhile
      n--;
      continue;
    }
    spinning = false;
    if (res == -EINTR) continue;
    if (res <= 0) {
      // 0: unmounted (ENODEV); negative: the device failed.
      Disconnect(res == 0 ? ENODEV : -res);
      break;
    }
    fuse_session_process_buf(se_, &buf_);
    buf_.mem = rx_;  // process_buf never swaps it, but stay defensive
    while (!interrupts_.empty()) {
      std::vector<uint32_t> list;
      list.swap(interrupts_);
      for (uint32_t idx : list) {
        if (idx >= slots_.size() || !slots_[idx].req) continue;
        io_[IO_OP] = OP_INTERRUPT;
        io_[IO_ID] = static_cast<double>(slots_[idx].gen) * (1 << SLOT_BITS) + idx;
        io_[IO_INO] = 0;
        Call(UINT32_MAX);
      }
    }
  }
}

void Session::Disconnect(int why) {
  if (!open_ || dead_) return;
  dead_ = true;
  uv_poll_stop(poll_);
  io_[IO_OP] = OP_DISCONNECT;
  io_[IO_ID] = 0;
  io_[IO_A] = why;
  Napi::HandleScope hs{Napi::Env{env_}};
  Call(UINT32_MAX);
}

void Session::OnAsync(uv_async_t* h) {
  Session* s = static_cast<Session*>(h->data);
  std::vector<std::pair<double, int>> done;
  {
    std::lock_guard<std::mutex> lk(s->mu_);
    done.swap(s->done_);
  }
  Napi::HandleScope hs{Napi::Env{s->env_}};
  Napi::CallbackScope cs{Napi::Env{s->env_}, *s->actx_};
  for (auto& d : done) {
    s->io_[IO_OP] = OP_NOTIFIED;
    s->io_[IO_ID] = 0;
    s->io_[IO_A] = d.first;
    s->io_[IO_B] = d.second;
    s->Call(UINT32_MAX);
  }
}

void Session::NotifierLoop() {
  for (;;) {
    Notice n;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      n = std::move(queue_.front());
      queue_.pop_front();
      notifying_ = true;  // under the lock: Shutdown either sees it or the thread sees stop_
    }
    // May block until the kernel's pending READ/LOOKUP on this inode is answered by the event loop.
    int r = n.entry ? fuse_lowlevel_notify_inval_entry(se_, n.ino, n.name.c_str(), n.name.size())
                    : fuse_lowlevel_notify_inval_inode(se_, n.ino, n.off, n.len);
    notifying_ = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_.emplace_back(n.token, r);
    }
    uv_async_send(async_);
  }
}

// notify(token, kind: 0 inode | 1 entry, ino|parent, offOrName, len)
Napi::Value Session::Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!open_ || dead_) return Napi::Boolean::New(env, false);
  Notice n;
  n.token = info[0].As<Napi::Number>().DoubleValue();
  n.entry = info[1].As<Napi::Number>().Int32Value() == 1;
  n.ino = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  if (n.entry) {
    n.name = info[3].As<Napi::String>().Utf8Value();
    n.off = n.len = 0;
  } else {
    n.off = info[3].As<Napi::Number>().Int64Value();
    n.len = info[4].As<Napi::Number>().Int64Value();
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(std::move(n));
  }
  if (!notifier_.joinable()) notifier_ = std::thread([this] { NotifierLoop(); });
  cv_.notify_one();
  return Napi::Boolean::New(env, true);
}

// Attribute-only invalidation (offset -1) touches no page and takes no inode lock: safe on the loop thread, even
// with requests outstanding, so it can precede the reply that acknowledges a commit.
Napi::Value Session::InvalAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!open_ || dead_) return Napi::Number::New(env, -ENOTCONN);
  fuse_ino_t ino = static_cast<fuse_ino_t>(info[0].As<Napi::Number>().DoubleValue());
  return Napi::Number::New(env, fuse_lowlevel_notify_inval_inode(se_, ino, -1, 0));
}

Napi::Value Session::Pending(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pending_); }

void Session::Shutdown() {
  if (!se_) return;
  open_ = false;
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  // Fail what is still unanswered: the callers get EIO, late JS replies are ignored.
  for (uint32_t i = 0; i < slots_.size(); i++) {
    if (!slots_[i].req) continue;
    fuse_req_t req = slots_[i].req;
    slots_[i].req = nullptr;
    slots_[i].gen++;
    fuse_reply_err(req, EIO);
  }
  pending_ = 0;
  if (notifier_.joinable()) {
    // The notifier may be blocked in the kernel on a request still queued in /dev/fuse: keep answering (EIO, without
    // JS) until it returns. Closing the fd would not help: its in-flight write holds the file open.
    draining_ = true;
    int fd = fuse_session_fd(se_);
    while (notifying_) {
      struct pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int res = fuse_session_receive_buf(se_, &buf_);
      if (res == -EAGAIN || res == -EINTR) continue;
      if (res <= 0) break;  // connection gone: the kernel ended the notifier's wait too
      fuse_session_process_buf(se_, &buf_);
    }
    notifier_.join();
  }
  // Closes the fd (the kernel aborts the connection), then detaches the mount (MNT_DETACH as root, no helper).
  fuse_session_unmount(se_);
  if (dead_) umount2(mountpoint_.c_str(), MNT_DETACH);  // after `umount -f` libfuse skips it: the mount would linger
  fuse_session_destroy(se_);
  se_ = nullptr;
  if (async_) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
}

Napi::Value Session::Close(const Napi::CallbackInfo& info) {
  bool was = se_ != nullptr;
  Shutdown();
  if (was) Unref();
  return info.Env().Undefined();
}

fuse_req_t Session::Take(const Napi::CallbackInfo& info) {
  double id = info[0].As<Napi::Number>().DoubleValue();
  if (!se_) return nullptr;  // closed: pending requests were already failed
  uint64_t v = static_cast<uint64_t>(id);
  uint32_t idx = static_cast<uint32_t>(v & SLOT_MASK);
  uint32_t gen = static_cast<uint32_t>(v >> SLOT_BITS);
  if (idx >= slots_.size() || slots_[idx].gen != gen || !slots_[idx].req)
    throw Napi::Error::New(info.Env(), "FUSE request already answered (or unknown id)");
  fuse_req_t req = slots_[idx].req;
  slots_[idx].req = nullptr;
  slots_[idx].gen++;
  free_.push_back(idx);
  pending_--;
  return req;
}

void Session::FillStat(struct stat* st, int o) {
  memset(st, 0, sizeof(*st));
  st->st_ino = static_cast<ino_t>(io_[o]);
  st->st_mode = static_cast<mode_t>(io_[o + 1]);
  st->st_nlink = static_cast<nlink_t>(io_[o + 2]);
  st->st_uid = static_cast<uid_t>(io_[o + 3]);
  st->st_gid = static_cast<gid_t>(io_[o + 4]);
  st->st_size = static_cast<off_t>(io_[o + 5]);
  st->st_atim.tv_sec = static_cast<time_t>(io_[o + 6]);
  st->st_mtim.tv_sec = static_cast<time_t>(io_[o + 7]);
  st->st_ctim.tv_sec = static_cast<time_t>(io_[o + 8]);
  st->st_blksize = 4096;
  st->st_blocks = (st->st_size + 511) / 512;
}

// Reply values are read from io[IO_OUT...]: ino mode nlink uid gid size atime mtime ctime attrTimeout entryTimeout
// [fh openFlags] — see writeAttr() in src/fuse/native.ts.
enum { OUT_ATTR_T = IO_OUT + 9, OUT_ENTRY_T = IO_OUT + 10, OUT_FH = IO_OUT + 11, OUT_OFLAGS = IO_OUT + 12 };

void FillOpen(fuse_file_info* fi, double fh, double flags) {
  memset(fi, 0, sizeof(*fi));
  fi->fh = static_cast<uint64_t>(fh);
  int f = static_cast<int>(flags);
  fi->direct_io = (f & 1) != 0;
  fi->keep_cache = (f & 2) != 0;
  fi->noflush = (f & 4) != 0;
  fi->nonseekable = (f & 8) != 0;
  fi->cache_readdir = (f & 16) != 0;  // OPENDIR: the kernel may keep the listing in the directory's page cache
}

Napi::Value Session::ReplyErr(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (req) fuse_reply_err(req, info[1].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value Session::ReplyEntry(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  FillStat(&e.attr, IO_OUT);
  e.ino = static_cast<fuse_ino_t>(io_[IO_OUT]);
  e.attr_timeout = io_[OUT_ATTR_T];
  e.entry_timeout = io_[OUT_ENTRY_T];
  fuse_reply_entry(req, &e);
  return info.Env().Undefined();
}

Napi::Value Session::ReplyCreate(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  fuse_entry_param e;
  memset(&e, 0, sizeof(e));
  FillStat(&e.attr, IO_OUT);
  e.ino = static_cast<fuse_ino_t>(io_[IO_OUT]);
  e.attr_timeout = io_[OUT_ATTR_T];
  e.entry_timeout = io_[OUT_ENTRY_T];
  fuse_file_info fi;
  FillOpen(&fi, io_[OUT_FH], io_[OUT_OFLAGS]);
  fuse_reply_create(req, &e, &fi);
  return info.Env().Undefined();
}

Napi::Value Session::ReplyAttr(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  struct stat st;
  FillStat(&st, IO_OUT);
  fuse_reply_attr(req, &st, io_[OUT_ATTR_T]);
  return info.Env().Undefined();
}

Napi::Value Session::ReplyOpen(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  fuse_file_info fi;
  FillOpen(&fi, io_[OUT_FH], io_[OUT_OFLAGS]);
  fuse_reply_open(req, &fi);
  return info.Env().Undefined();
}

// replyBuf(id, Uint8Array [, offset, length]): read data, encoded directory records, xattr values
Napi::Value Session::ReplyBuf(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  auto b = info[1].As<Napi::Uint8Array>();
  size_t off = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  size_t len = info.Length() > 3 ? info[3].As<Napi::Number>().Uint32Value() : b.ByteLength() - off;
  if (off + len > b.ByteLength()) len = off > b.ByteLength() ? 0 : b.ByteLength() - off;
  fuse_reply_buf(req, reinterpret_cast<const char*>(b.Data()) + off, len);
  return info.Env().Undefined();
}

Napi::Value Session::ReplyWrite(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (req) fuse_reply_write(req, info[1].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value Session::ReplyReadlink(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (req) fuse_reply_readlink(req, info[1].As<Napi::String>().Utf8Value().c_str());
  return info.Env().Undefined();
}

// GETXATTR/LISTXATTR with size 0: the caller asks for the value's length only.
Napi::Value Session::ReplyXattr(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (req) fuse_reply_xattr(req, info[1].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

// io[OUT...]: bsize frsize blocks bfree bavail files ffree favail namemax
Napi::Value Session::ReplyStatfs(const Napi::CallbackInfo& info) {
  fuse_req_t req = Take(info);
  if (!req) return info.Env().Undefined();
  struct statvfs sv;
  memset(&sv, 0, sizeof(sv));
  sv.f_bsize = static_cast<unsigned long>(io_[IO_OUT]);
  sv.f_frsize = static_cast<unsigned long>(io_[IO_OUT + 1]);
  sv.f_blocks = static_cast<fsblkcnt_t>(io_[IO_OUT + 2]);
  sv.f_bfree = static_cast<fsblkcnt_t>(io_[IO_OUT + 3]);
  sv.f_bavail = static_cast<fsblkcnt_t>(io_[IO_OUT + 4]);
  sv.f_files = static_cast<fsfilcnt_t>(io_[IO_OUT + 5]);
  sv.f_ffree = static_cast<fsfilcnt_t>(io_[IO_OUT + 6]);
  sv.f_favail = static_cast<fsfilcnt_t>(io_[IO_OUT + 7]);
  sv.f_namemax = static_cast<unsigned long>(io_[IO_OUT + 8]);
  fuse_reply_statfs(req, &sv);
  return info.Env().Undefined();
}

// WRITE: the payload lies inside the receive buffer JS already holds a view of: pass its offset, not a copy.
void ll_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Session* s = S(req);
  size_t at = static_cast<size_t>(buf - s->rx());
  if (buf < s->rx() || at + size > s->rxLen()) {
    fuse_reply_err(req, EIO);  // never happens without splice, which is off
    return;
  }
  uint32_t idx = s->Begin(req, OP_WRITE, ino);
  double* io = s->io();
  io[IO_A] = static_cast<double>(fi->fh);
  io[IO_B] = static_cast<double>(size);
  io[IO_C] = static_cast<double>(off);
  io[IO_D] = static_cast<double>(at);
  s->Call(idx);
}

}  // namespace

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Init(env));
  exports.Set("ENOSYS", Napi::Number::New(env, ENOSYS));
  return exports;
}

NODE_API_MODULE(pmxfuse, InitAll)
