// Thin N-API binding over libcpg, libvotequorum, libcmap and libcfg.
//
// Each connection owns one library handle and a uv_poll on the library's fd. When the fd is readable we call
// *_dispatch(CS_DISPATCH_ALL); the library callbacks only copy their arguments into a batch, and after dispatch
// returns the batch is handed to JS in one call. So no JS runs inside libcorosync (no re-entrancy), and the event
// order across callback kinds is kept. Everything else (retries, reconnection, quorum policy) lives in TypeScript.
// Methods return the raw cs_error_t code where the caller must react to it (join, mcast, setexpected, reload),
// and throw an Error carrying `code` for getters.

#include <napi.h>
#include <uv.h>

#include <corosync/cfg.h>
#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>
#include <signal.h>
#include <sys/uio.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

// libqb's connection handshake waits in poll() and gives up when a signal interrupts it (EINTR, then a recvmsg that
// finds no answer yet): the connection attempt fails. A process that gets signals often (the CPU profiler's SIGPROF,
// a burst of SIGCHLD) would then never connect. The handshake runs with this thread's signals held; they are
// delivered right after.
class SignalsHeld {
 public:
  SignalsHeld() {
    sigset_t all;
    sigfillset(&all);
    // faults stay deliverable: blocking them would turn a crash into undefined behaviour
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&all, sig);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t saved_;
};

// One libcorosync initialize call with signals held.
template <typename F>
cs_error_t WithSignalsHeld(F initialize) {
  SignalsHeld held;
  return initialize();
}

using Event = std::function<Napi::Value(Napi::Env)>;

Napi::Error CsError(Napi::Env env, const char* what, cs_error_t err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + " failed: cs_error " + std::to_string(err));
  e.Set("code", Napi::Number::New(env, err));
  return e;
}

Napi::Object ErrorEvent(Napi::Env env, int code, int uvStatus) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", "error");
  o.Set("code", code);
  o.Set("uvStatus", uvStatus);
  return o;
}

// Base of the four connection kinds: poll, batching and delivery of events to one JS function.
template <class T>
class Conn : public Napi::ObjectWrap<T> {
 public:
  explicit Conn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info), env_(info.Env()) {
    if (info.Length() > 0 && info[0].IsFunction()) onEvents_ = Napi::Persistent(info[0].As<Napi::Function>());
    asyncCtx_ = std::make_unique<Napi::AsyncContext>(info.Env(), "corosync");
  }
  ~Conn() override { StopPoll(); }

 protected:
  // The connection whose dispatch is running: the C callbacks find their batch through it.
  static T* current_;
  napi_env env_;
  bool open_ = false;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onEvents_;
  std::unique_ptr<Napi::AsyncContext> asyncCtx_;
  std::vector<Event> batch_;

  virtual cs_error_t DispatchAll() = 0;
  virtual void FinalizeHandle() = 0;

  void Push(Event ev) { batch_.push_back(std::move(ev)); }

  bool StartPoll(int fd) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return false;
    poll_ = new uv_poll_t;
    if (uv_poll_init(loop, poll_, fd) != 0) {
      delete poll_;
      poll_ = nullptr;
      return false;
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnPoll);
    this->Ref();  // stay alive while the fd is polled, even if JS drops the object
    return true;
  }

  void StopPoll() {
    if (!poll_) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    this->Unref();
  }

  void Close() {
    StopPoll();
    if (open_) {
      FinalizeHandle();
      open_ = false;
    }
  }

  static void OnPoll(uv_poll_t* p, int status, int /*events*/) {
    T* self = static_cast<T*>(p->data);
    if (!self) return;
    self->OnReadable(status);
  }

  void OnReadable(int status) {
    Napi::Env env(env_);
    Napi::HandleScope scope(env);
    bool failed = false;
    int code = CS_OK;
    if (status < 0) {
      failed = true;
      code = CS_ERR_LIBRARY;
    } else {
      current_ = static_cast<T*>(this);
      cs_error_t err = DispatchAll();
      current_ = nullptr;
      if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
        failed = true;
        code = err;
      }
    }
    std::vector<Event> batch;
    batch.swap(batch_);
    // The connection is dead: stop polling (a hung-up fd would stay readable) and let JS finalize and reconnect.
    if (failed) StopPoll();
    if (batch.empty() && !failed) return;
    Napi::Array arr = Napi::Array::New(env, batch.size() + (failed ? 1 : 0));
    uint32_t i = 0;
    for (auto& ev : batch) arr.Set(i++, ev(env));
    if (failed) arr.Set(i++, ErrorEvent(env, code, status));
    if (onEvents_.IsEmpty()) return;
    onEvents_.MakeCallback(env.Global(), {arr}, *asyncCtx_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  Napi::Value FinalizeJs(const Napi::CallbackInfo& info) {
    Close();
    return info.Env().Undefined();
  }

  bool CheckOpen(Napi::Env env) {
    if (open_) return true;
    CsError(env, "closed handle", CS_ERR_BAD_HANDLE).ThrowAsJavaScriptException();
    return false;
  }
};

template <class T>
T* Conn<T>::current_ = nullptr;

Napi::Array AddrList(Napi::Env env, const cpg_address* list, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("nodeid", list[i].nodeid);
    o.Set("pid", list[i].pid);
    o.Set("reason", list[i].reason);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

bool ToCpgName(Napi::Env env, Napi::Value v, cpg_name* name) {
  if (!v.IsString()) {
    Napi::TypeError::New(env, "group name must be a string").ThrowAsJavaScriptException();
    return false;
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() > CPG_MAX_NAME_LENGTH) {
    Napi::RangeError::New(env, "group name length must be 1..128 bytes").ThrowAsJavaScriptException();
    return false;
  }
  std::memset(name, 0, sizeof(*name));
  name->length = static_cast<uint32_t>(s.size());
  std::memcpy(name->value, s.data(), s.size());
  return true;
}

// ---------------------------------------------------------------------------------------------------- CPG
class Cpg : public Conn<Cpg> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Cpg",
                       {InstanceMethod("join", &Cpg::Join), InstanceMethod("leave", &Cpg::Leave),
                        InstanceMethod("mcast", &Cpg::Mcast), InstanceMethod("localNodeId", &Cpg::LocalNodeId),
                        InstanceMethod("maxMessageSize", &Cpg::MaxMsgSize),
                        InstanceMethod("membership", &Cpg::Membership),
                        InstanceMethod("flowControlEnabled", &Cpg::FlowControl),
                        InstanceMethod("finalize", &Cpg::FinalizeJs)});
  }

  // Only reached when JS dropped a handle without finalize() after its connection died (a polled one stays referenced).
  ~Cpg() override {
    if (open_) cpg_finalize(handle_);
  }

  explicit Cpg(const Napi::CallbackInfo& info) : Conn<Cpg>(info) {
    Napi::Env env = info.Env();
    cpg_model_v1_data_t model;
    std::memset(&model, 0, sizeof(model));
    model.model = CPG_MODEL_V1;
    model.cpg_deliver_fn = OnDeliver;
    model.cpg_confchg_fn = OnConfchg;
    model.cpg_totem_confchg_fn = OnTotem;
    model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
    auto* data = reinterpret_cast<cpg_model_data_t*>(&model);
    cs_error_t err = WithSignalsHeld([&] { return cpg_model_initialize(&handle_, CPG_MODEL_V1, data, nullptr); });
    if (err != CS_OK) {
      CsError(env, "cpg_model_initialize", err).ThrowAsJavaScriptException();
      return;
    }
    open_ = true;
    int fd = -1;
    err = cpg_fd_get(handle_, &fd);
    if (err != CS_OK || !StartPoll(fd)) {
      Close();
      CsError(env, "cpg_fd_get", err == CS_OK ? CS_ERR_LIBRARY : err).ThrowAsJavaScriptException();
    }
  }

 private:
  cpg_handle_t handle_ = 0;

  cs_error_t DispatchAll() override { return cpg_dispatch(handle_, CS_DISPATCH_ALL); }
  void FinalizeHandle() override { cpg_finalize(handle_); }

  static void OnDeliver(cpg_handle_t, const cpg_name*, uint32_t nodeid, uint32_t pid, void* msg, size_t len) {
    auto data = std::make_shared<std::vector<uint8_t>>(static_cast<uint8_t*>(msg), static_cast<uint8_t*>(msg) + len);
    current_->Push([nodeid, pid, data](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "deliver");
      o.Set("nodeid", nodeid);
      o.Set("pid", pid);
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, data->data(), data->size()));
      return o;
    });
  }

  static void OnConfchg(cpg_handle_t, const cpg_name* group, const cpg_address* m, size_t mn, const cpg_address* l,
                        size_t ln, const cpg_address* j, size_t jn) {
    std::string name(group->value, group->length);
    std::vector<cpg_address> members(m, m + mn), left(l, l + ln), joined(j, j + jn);
    current_->Push([name, members, left, joined](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "confchg");
      o.Set("group", name);
      o.Set("members", AddrList(env, members.data(), members.size()));
      o.Set("left", AddrList(env, left.data(), left.size()));
      o.Set("joined", AddrList(env, joined.data(), joined.size()));
      return o;
    });
  }

  static void OnTotem(cpg_handle_t, cpg_ring_id ring, uint32_t n, const uint32_t* list) {
    std::vector<uint32_t> members(list, list + n);
    current_->Push([ring, members](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "totem");
      o.Set("ringNodeid", ring.nodeid);
      o.Set("ringSeq", Napi::Number::New(env, static_cast<double>(ring.seq)));
      Napi::Array a = Napi::Array::New(env, members.size());
      for (size_t i = 0; i < members.size(); i++) a.Set(static_cast<uint32_t>(i), members[i]);
      o.Set("members", a);
      return o;
    });
  }

  Napi::Value Join(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cpg_name name;
    if (!CheckOpen(env) || !ToCpgName(env, info[0], &name)) return env.Undefined();
    return Napi::Number::New(env, cpg_join(handle_, &name));
  }

  Napi::Value Leave(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cpg_name name;
    if (!CheckOpen(env) || !ToCpgName(env, info[0], &name)) return env.Undefined();
    return Napi::Number::New(env, cpg_leave(handle_, &name));
  }

  // mcast(Buffer | Buffer[]): agreed order. Returns the cs_error_t; CS_ERR_TRY_AGAIN means flow control (retry later).
  Napi::Value Mcast(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    struct iovec iov[16];
    unsigned int n = 0;
    if (info[0].IsBuffer()) {
      auto b = info[0].As<Napi::Buffer<uint8_t>>();
      iov[0].iov_base = b.Data();
      iov[0].iov_len = b.Length();
      n = 1;
    } else if (info[0].IsArray()) {
      Napi::Array a = info[0].As<Napi::Array>();
      if (a.Length() > 16) {
        Napi::RangeError::New(env, "at most 16 buffers").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value v = a.Get(i);
        if (!v.IsBuffer()) {
          Napi::TypeError::New(env, "mcast expects Buffers").ThrowAsJavaScriptException();
          return env.Undefined();
        }
        auto b = v.As<Napi::Buffer<uint8_t>>();
        iov[n].iov_base = b.Data();
        iov[n].iov_len = b.Length();
        n++;
      }
    } else {
      Napi::TypeError::New(env, "mcast expects a Buffer or an array of Buffers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, cpg_mcast_joined(handle_, CPG_TYPE_AGREED, iov, n));
  }

  Napi::Value LocalNodeId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    unsigned int id = 0;
    cs_error_t err = cpg_local_get(handle_, &id);
    if (err != CS_OK) {
      CsError(env, "cpg_local_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, id);
  }

  Napi::Value MaxMsgSize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    uint32_t size = 0;
    cs_error_t err = cpg_max_atomic_msgsize_get(handle_, &size);
    if (err != CS_OK) {
      CsError(env, "cpg_max_atomic_msgsize_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, size);
  }

  Napi::Value Membership(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cpg_name name;
    if (!CheckOpen(env) || !ToCpgName(env, info[0], &name)) return env.Undefined();
    cpg_address list[CPG_MEMBERS_MAX];
    int n = CPG_MEMBERS_MAX;
    cs_error_t err = cpg_membership_get(handle_, &name, list, &n);
    if (err != CS_OK) {
      CsError(env, "cpg_membership_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return AddrList(env, list, static_cast<size_t>(n));
  }

  Napi::Value FlowControl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    cpg_flow_control_state_t st;
    cs_error_t err = cpg_flow_control_state_get(handle_, &st);
    if (err != CS_OK) {
      CsError(env, "cpg_flow_control_state_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Boolean::New(env, st == CPG_FLOW_CONTROL_ENABLED);
  }
};

// ---------------------------------------------------------------------------------------------------- votequorum
class Votequorum : public Conn<Votequorum> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Votequorum",
                       {InstanceMethod("getInfo", &Votequorum::GetInfo),
                        InstanceMethod("setExpected", &Votequorum::SetExpected),
                        InstanceMethod("setVotes", &Votequorum::SetVotes),
                        InstanceMethod("trackStart", &Votequorum::TrackStart),
                        InstanceMethod("trackStop", &Votequorum::TrackStop),
                        InstanceMethod("finalize", &Votequorum::FinalizeJs)});
  }

  ~Votequorum() override {
    if (open_) votequorum_finalize(handle_);
  }

  explicit Votequorum(const Napi::CallbackInfo& info) : Conn<Votequorum>(info) {
    Napi::Env env = info.Env();
    votequorum_callbacks_t cb;
    std::memset(&cb, 0, sizeof(cb));
    cb.votequorum_quorum_notify_fn = OnQuorum;
    cb.votequorum_expectedvotes_notify_fn = OnExpected;
    cb.votequorum_nodelist_notify_fn = OnNodelist;
    cs_error_t err = WithSignalsHeld([&] { return votequorum_initialize(&handle_, &cb); });
    if (err != CS_OK) {
      CsError(env, "votequorum_initialize", err).ThrowAsJavaScriptException();
      return;
    }
    open_ = true;
    int fd = -1;
    err = votequorum_fd_get(handle_, &fd);
    if (err != CS_OK || !StartPoll(fd)) {
      Close();
      CsError(env, "votequorum_fd_get", err == CS_OK ? CS_ERR_LIBRARY : err).ThrowAsJavaScriptException();
    }
  }

 private:
  votequorum_handle_t handle_ = 0;

  cs_error_t DispatchAll() override { return votequorum_dispatch(handle_, CS_DISPATCH_ALL); }
  void FinalizeHandle() override { votequorum_finalize(handle_); }

  static void OnQuorum(votequorum_handle_t, uint64_t, uint32_t quorate, uint32_t n, votequorum_node_t nodes[]) {
    std::vector<votequorum_node_t> list(nodes, nodes + n);
    current_->Push([quorate, list](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "quorum");
      o.Set("quorate", Napi::Boolean::New(env, quorate != 0));
      Napi::Array a = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("nodeid", list[i].nodeid);
        e.Set("state", list[i].state);
        a.Set(static_cast<uint32_t>(i), e);
      }
      o.Set("nodes", a);
      return o;
    });
  }

  static void OnExpected(votequorum_handle_t, uint64_t, uint32_t expected) {
    current_->Push([expected](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "expected");
      o.Set("expectedVotes", expected);
      return o;
    });
  }

  static void OnNodelist(votequorum_handle_t, uint64_t, votequorum_ring_id_t ring, uint32_t n, uint32_t nodes[]) {
    std::vector<uint32_t> list(nodes, nodes + n);
    current_->Push([ring, list](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "nodelist");
      o.Set("ringNodeid", ring.nodeid);
      o.Set("ringSeq", Napi::Number::New(env, static_cast<double>(ring.seq)));
      Napi::Array a = Napi::Array::New(env, list.size());
      for (size_t i = 0; i < list.size(); i++) a.Set(static_cast<uint32_t>(i), list[i]);
      o.Set("nodes", a);
      return o;
    });
  }

  // getInfo(nodeid = 0): 0 asks for the local node.
  Napi::Value GetInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    unsigned int nodeid = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    votequorum_info vi;
    std::memset(&vi, 0, sizeof(vi));
    cs_error_t err = votequorum_getinfo(handle_, nodeid, &vi);
    if (err != CS_OK) {
      CsError(env, "votequorum_getinfo", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("nodeId", vi.node_id);
    o.Set("nodeState", vi.node_state);
    o.Set("nodeVotes", vi.node_votes);
    o.Set("nodeExpectedVotes", vi.node_expected_votes);
    o.Set("highestExpected", vi.highest_expected);
    o.Set("totalVotes", vi.total_votes);
    o.Set("quorum", vi.quorum);
    o.Set("flags", vi.flags);
    return o;
  }

  Napi::Value SetExpected(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    return Napi::Number::New(env, votequorum_setexpected(handle_, info[0].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value SetVotes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    return Napi::Number::New(env, votequorum_setvotes(handle_, info[0].As<Napi::Number>().Uint32Value(),
                                                      info[1].As<Napi::Number>().Uint32Value()));
  }

  Napi::Value TrackStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    unsigned int flags = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : CS_TRACK_CHANGES;
    return Napi::Number::New(env, votequorum_trackstart(handle_, 0, flags));
  }

  Napi::Value TrackStop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    return Napi::Number::New(env, votequorum_trackstop(handle_));
  }
};

// ---------------------------------------------------------------------------------------------------- cmap
Napi::Value CmapValue(Napi::Env env, cmap_value_types_t type, const void* data, size_t len) {
  auto rd = [&](auto v) {
    std::memcpy(&v, data, std::min(len, sizeof(v)));
    return v;
  };
  switch (type) {
    case CMAP_VALUETYPE_INT8: return Napi::Number::New(env, rd(int8_t{0}));
    case CMAP_VALUETYPE_UINT8: return Napi::Number::New(env, rd(uint8_t{0}));
    case CMAP_VALUETYPE_INT16: return Napi::Number::New(env, rd(int16_t{0}));
    case CMAP_VALUETYPE_UINT16: return Napi::Number::New(env, rd(uint16_t{0}));
    case CMAP_VALUETYPE_INT32: return Napi::Number::New(env, rd(int32_t{0}));
    case CMAP_VALUETYPE_UINT32: return Napi::Number::New(env, rd(uint32_t{0}));
    case CMAP_VALUETYPE_INT64: return Napi::BigInt::New(env, static_cast<int64_t>(rd(int64_t{0})));
    case CMAP_VALUETYPE_UINT64: return Napi::BigInt::New(env, static_cast<uint64_t>(rd(uint64_t{0})));
    case CMAP_VALUETYPE_FLOAT: return Napi::Number::New(env, rd(float{0}));
    case CMAP_VALUETYPE_DOUBLE: return Napi::Number::New(env, rd(double{0}));
    case CMAP_VALUETYPE_STRING: {
      size_t n = len;
      const char* s = static_cast<const char*>(data);
      while (n > 0 && s[n - 1] == '\0') n--;  // stored with its terminating NUL
      return Napi::String::New(env, s, n);
    }
    default: return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(data), len);
  }
}

class Cmap : public Conn<Cmap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Cmap",
                       {InstanceMethod("get", &Cmap::Get), InstanceMethod("entries", &Cmap::Entries),
                        InstanceMethod("trackAdd", &Cmap::TrackAdd), InstanceMethod("trackDelete", &Cmap::TrackDelete),
                        InstanceMethod("finalize", &Cmap::FinalizeJs)});
  }

  ~Cmap() override {
    if (open_) cmap_finalize(handle_);
  }

  explicit Cmap(const Napi::CallbackInfo& info) : Conn<Cmap>(info) {
    Napi::Env env = info.Env();
    cs_error_t err = WithSignalsHeld([&] { return cmap_initialize(&handle_); });
    if (err != CS_OK) {
      CsError(env, "cmap_initialize", err).ThrowAsJavaScriptException();
      return;
    }
    open_ = true;
    int fd = -1;
    err = cmap_fd_get(handle_, &fd);
    if (err != CS_OK || !StartPoll(fd)) {
      Close();
      CsError(env, "cmap_fd_get", err == CS_OK ? CS_ERR_LIBRARY : err).ThrowAsJavaScriptException();
    }
  }

 private:
  cmap_handle_t handle_ = 0;
  uint32_t nextTrack_ = 1;
  std::map<uint32_t, cmap_track_handle_t> tracks_;

  cs_error_t DispatchAll() override { return cmap_dispatch(handle_, CS_DISPATCH_ALL); }
  void FinalizeHandle() override {
    tracks_.clear();
    cmap_finalize(handle_);
  }

  struct Val {
    cmap_value_types_t type;
    std::vector<uint8_t> bytes;
  };

  static void OnNotify(cmap_handle_t, cmap_track_handle_t, int32_t event, const char* key, cmap_notify_value nv,
                       cmap_notify_value ov, void* user) {
    uint32_t id = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(user));
    std::string k(key);
    auto copy = [](const cmap_notify_value& v) {
      Val r{v.type, {}};
      if (v.data && v.len) r.bytes.assign(static_cast<const uint8_t*>(v.data), static_cast<const uint8_t*>(v.data) + v.len);
      return r;
    };
    Val n = copy(nv), o = copy(ov);
    current_->Push([id, event, k, n, o](Napi::Env env) -> Napi::Value {
      Napi::Object ev = Napi::Object::New(env);
      ev.Set("type", "notify");
      ev.Set("trackId", id);
      ev.Set("event", event);
      ev.Set("key", k);
      if (!n.bytes.empty()) ev.Set("newValue", CmapValue(env, n.type, n.bytes.data(), n.bytes.size()));
      if (!o.bytes.empty()) ev.Set("oldValue", CmapValue(env, o.type, o.bytes.data(), o.bytes.size()));
      return ev;
    });
  }

  // get(key) -> {type, value}; throws with code CS_ERR_NOT_EXIST (12) for a missing key.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    std::string key = info[0].As<Napi::String>().Utf8Value();
    Napi::Value v;
    cs_error_t err = Read(env, key.c_str(), &v);
    if (err != CS_OK) {
      CsError(env, "cmap_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return v;
  }

  cs_error_t Read(Napi::Env env, const char* key, Napi::Value* out) {
    size_t len = 0;
    cmap_value_types_t type;
    cs_error_t err = cmap_get(handle_, key, nullptr, &len, &type);
    if (err != CS_OK) return err;
    std::vector<uint8_t> buf(len + 1);
    err = cmap_get(handle_, key, buf.data(), &len, &type);
    if (err != CS_OK) return err;
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", static_cast<int>(type));
    o.Set("value", CmapValue(env, type, buf.data(), len));
    *out = o;
    return CS_OK;
  }

  // entries(prefix) -> [{key, type, value}]
  Napi::Value Entries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    std::string prefix = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    cmap_iter_handle_t it;
    cs_error_t err = cmap_iter_init(handle_, prefix.empty() ? nullptr : prefix.c_str(), &it);
    if (err != CS_OK) {
      CsError(env, "cmap_iter_init", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    char key[CMAP_KEYNAME_MAXLEN + 1];
    size_t len;
    cmap_value_types_t type;
    while ((err = cmap_iter_next(handle_, it, key, &len, &type)) == CS_OK) {
      Napi::Value v;
      if (Read(env, key, &v) != CS_OK) continue;  // deleted meanwhile
      Napi::Object o = v.As<Napi::Object>();
      o.Set("key", key);
      out.Set(i++, o);
    }
    cmap_iter_finalize(handle_, it);
    if (err != CS_ERR_NO_SECTIONS) {
      CsError(env, "cmap_iter_next", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return out;
  }

  // trackAdd(key, flags) -> track id (small integer) used in notify events.
  Napi::Value TrackAdd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    std::string key = info[0].As<Napi::String>().Utf8Value();
    int32_t flags = info[1].As<Napi::Number>().Int32Value();
    uint32_t id = nextTrack_++;
    cmap_track_handle_t th;
    cs_error_t err = cmap_track_add(handle_, key.c_str(), flags, OnNotify, reinterpret_cast<void*>(uintptr_t(id)), &th);
    if (err != CS_OK) {
      CsError(env, "cmap_track_add", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    tracks_[id] = th;
    return Napi::Number::New(env, id);
  }

  Napi::Value TrackDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    auto it = tracks_.find(id);
    if (it == tracks_.end()) return Napi::Number::New(env, CS_ERR_NOT_EXIST);
    cs_error_t err = cmap_track_delete(handle_, it->second);
    tracks_.erase(it);
    return Napi::Number::New(env, err);
  }
};

// ---------------------------------------------------------------------------------------------------- cfg
class Cfg : public Conn<Cfg> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Cfg",
                       {InstanceMethod("reload", &Cfg::Reload), InstanceMethod("localNodeId", &Cfg::LocalNodeId),
                        InstanceMethod("finalize", &Cfg::FinalizeJs)});
  }

  ~Cfg() override {
    if (open_) corosync_cfg_finalize(handle_);
  }

  explicit Cfg(const Napi::CallbackInfo& info) : Conn<Cfg>(info) {
    Napi::Env env = info.Env();
    corosync_cfg_callbacks_t cb;
    cb.corosync_cfg_shutdown_callback = OnShutdown;
    cs_error_t err = WithSignalsHeld([&] { return corosync_cfg_initialize(&handle_, &cb); });
    if (err != CS_OK) {
      CsError(env, "corosync_cfg_initialize", err).ThrowAsJavaScriptException();
      return;
    }
    open_ = true;
    int32_t fd = -1;
    err = corosync_cfg_fd_get(handle_, &fd);
    if (err != CS_OK || !StartPoll(fd)) {
      Close();
      CsError(env, "corosync_cfg_fd_get", err == CS_OK ? CS_ERR_LIBRARY : err).ThrowAsJavaScriptException();
    }
  }

 private:
  corosync_cfg_handle_t handle_ = 0;

  cs_error_t DispatchAll() override { return corosync_cfg_dispatch(handle_, CS_DISPATCH_ALL); }
  void FinalizeHandle() override { corosync_cfg_finalize(handle_); }

  static void OnShutdown(corosync_cfg_handle_t, corosync_cfg_shutdown_flags_t flags) {
    current_->Push([flags](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "shutdown");
      o.Set("flags", static_cast<int>(flags));
      return o;
    });
  }

  // reload(): every corosync in the cluster re-reads its own corosync.conf. Returns the cs_error_t.
  Napi::Value Reload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    return Napi::Number::New(env, corosync_cfg_reload_config(handle_));
  }

  Napi::Value LocalNodeId(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    unsigned int id = 0;
    cs_error_t err = corosync_cfg_local_get(handle_, &id);
    if (err != CS_OK) {
      CsError(env, "corosync_cfg_local_get", err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, id);
  }
};

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("Cpg", Cpg::Init(env));
  exports.Set("Votequorum", Votequorum::Init(env));
  exports.Set("Cmap", Cmap::Init(env));
  exports.Set("Cfg", Cfg::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(corosync, InitAll)
