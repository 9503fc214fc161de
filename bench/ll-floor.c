// The floor of this daemon's design, for issue 9's "why": a C libfuse3 low-level filesystem, single-threaded like
// the daemon, that the kernel sees exactly as it sees this daemon (mount options allow_other, default_permissions,
// noatime; atomic_o_trunc; 10 s entry and attribute timeouts; a lookup miss answered ENOENT; every file handle
// direct_io, readers FOPEN_NOFLUSH; directory listings kept by the kernel; a written handle committed at FLUSH), over
// a tree in memory and nothing else: no names rules, limits, locks, generated files, health check or logging.
// Its loop is the daemon's: up to 64 requests per wake-up, then, once all are answered, up to PMXCFS_FUSE_SPIN_US
// (default 50) of reading again (sched_yield between tries) before sleeping in poll().
// With DB, every change is also one SQLite transaction of the daemon's shape at the point where the daemon commits
// (the `tree` row upserted or deleted, then the version row; WAL, synchronous = NORMAL; SQLite's own checkpoints).
// So its figures bound what any daemon with these semantics can reach on the machine: the side-by-side bench
// (--floor) runs the same clients against it.
// usage: ll-floor MOUNTPOINT [DB]   (foreground; prints "ready" once mounted; ends when unmounted or on SIGTERM)
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "floor-db.h"

#define MAX_NODES (1 << 20)
#define BUCKETS (1 << 16)
#define TIMEOUT 10.0

struct node {
  uint64_t parent;
  char* name;
  int dir;
  char* data;
  size_t size;
  time_t mtime;
  uint64_t next_hash;            // the next node in this name's hash bucket
  uint64_t first, prev, next;    // a directory's children; siblings
};
struct handle {
  uint64_t ino;
  int writing, dirty;
  char* buf;
  size_t len, cap;
};

static struct node* nodes;
static uint64_t next_ino = 2;
static uint64_t bucket[BUCKETS];
static struct floor_db fdb;
static int storing;

static unsigned hash(uint64_t parent, const char* name) {
  unsigned h = 2166136261u ^ (unsigned)parent;
  for (; *name; name++) h = (h ^ (unsigned char)*name) * 16777619u;
  return h & (BUCKETS - 1);
}
static uint64_t find(uint64_t parent, const char* name) {
  for (uint64_t i = bucket[hash(parent, name)]; i; i = nodes[i].next_hash)
    if (nodes[i].parent == parent && strcmp(nodes[i].name, name) == 0) return i;
  return 0;
}
static void link_node(uint64_t ino, uint64_t parent, const char* name) {
  struct node* n = &nodes[ino];
  n->parent = parent;
  n->name = strdup(name);
  unsigned h = hash(parent, name);
  n->next_hash = bucket[h];
  bucket[h] = ino;
  n->prev = 0;
  n->next = nodes[parent].first;
  if (n->next) nodes[n->next].prev = ino;
  nodes[parent].first = ino;
}
static void unlink_node(uint64_t ino) {
  struct node* n = &nodes[ino];
  uint64_t* p = &bucket[hash(n->parent, n->name)];
  while (*p != ino) p = &nodes[*p].next_hash;
  *p = n->next_hash;
  if (n->prev) nodes[n->prev].next = n->next;
  else nodes[n->parent].first = n->next;
  if (n->next) nodes[n->next].prev = n->prev;
  free(n->name);
  n->name = NULL;
}

// One change, one transaction (when storing): `put` (ino's row upserted) and/or `del` (a row deleted).
static int commit(uint64_t put, uint64_t del) {
  if (!storing) return 0;
  struct floor_row r;
  if (put) {
    struct node* n = &nodes[put];
    r = (struct floor_row){(int64_t)put, (int64_t)n->parent, 0, n->mtime, n->dir ? 4 : 8, n->name, n->data, n->size};
  }
  return floor_db_commit(&fdb, put ? &r : NULL, (int64_t)del) ? EIO : 0;
}

static void fill(uint64_t ino, struct stat* st) {
  memset(st, 0, sizeof *st);
  struct node* n = &nodes[ino];
  st->st_ino = ino;
  st->st_mode = n->dir ? S_IFDIR | 0755 : S_IFREG | 0640;
  st->st_nlink = n->dir ? 2 : 1;
  st->st_gid = 33;
  st->st_size = (off_t)n->size;
  st->st_mtime = st->st_ctime = st->st_atime = n->mtime;
}
static void reply_entry(fuse_req_t req, uint64_t ino) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = ino;
  e.attr_timeout = e.entry_timeout = TIMEOUT;
  fill(ino, &e.attr);
  fuse_reply_entry(req, &e);
}
static uint64_t new_node(uint64_t parent, const char* name, int dir) {
  uint64_t ino = next_ino++;
  memset(&nodes[ino], 0, sizeof nodes[ino]);
  nodes[ino].dir = dir;
  nodes[ino].mtime = time(NULL);
  link_node(ino, parent, name);
  return ino;
}
static struct handle* new_handle(uint64_t ino, int writing, int trunc) {
  struct handle* h = calloc(1, sizeof *h);
  h->ino = ino;
  h->writing = writing;
  if (writing && !trunc && nodes[ino].size) {
    h->cap = h->len = nodes[ino].size;
    h->buf = malloc(h->cap);
    memcpy(h->buf, nodes[ino].data, h->len);
  }
  h->dirty = trunc;
  return h;
}
static int commit_handle(struct handle* h) {
  if (!h->dirty) return 0;
  h->dirty = 0;
  struct node* n = &nodes[h->ino];
  if (!n->name) return 0;  // unlinked meanwhile
  free(n->data);
  n->data = h->buf;
  n->size = h->len;
  h->buf = NULL;
  h->len = h->cap = 0;
  if (n->size) {  // the handle keeps a copy for further writes
    h->buf = malloc(n->size);
    memcpy(h->buf, n->data, n->size);
    h->len = h->cap = n->size;
  }
  n->mtime = time(NULL);
  return commit(h->ino, 0);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  uint64_t ino = find(parent, name);
  if (!ino) fuse_reply_err(req, ENOENT);
  else reply_entry(req, ino);
}
static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)fi;
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, TIMEOUT);
}
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int set, struct fuse_file_info* fi) {
  struct node* n = &nodes[ino];
  int err = 0;
  if (set & FUSE_SET_ATTR_SIZE) {
    struct handle* h = fi ? (struct handle*)(uintptr_t)fi->fh : NULL;
    if (h && h->writing) {
      if ((size_t)attr->st_size > h->cap) h->buf = realloc(h->buf, h->cap = attr->st_size);
      if ((size_t)attr->st_size > h->len) memset(h->buf + h->len, 0, attr->st_size - h->len);
      h->len = attr->st_size;
      h->dirty = 1;
    } else {
      n->data = realloc(n->data, attr->st_size ? attr->st_size : 1);
      if ((size_t)attr->st_size > n->size) memset(n->data + n->size, 0, attr->st_size - n->size);
      n->size = attr->st_size;
      err = commit(ino, 0);
    }
  }
  if (!err && (set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) && !(set & FUSE_SET_ATTR_SIZE)) {
    n->mtime = (set & FUSE_SET_ATTR_MTIME_NOW) ? time(NULL) : attr->st_mtime;
    err = commit(ino, 0);
  }
  if (err) return (void)fuse_reply_err(req, err);
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, TIMEOUT);
}
static void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, struct fuse_file_info* fi) {
  (void)mode;
  if (find(parent, name)) return (void)fuse_reply_err(req, EEXIST);
  uint64_t ino = new_node(parent, name, 0);
  // not committed: the file and its content are one change, at close
  fi->fh = (uintptr_t)new_handle(ino, 1, 1);
  fi->direct_io = 1;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = ino;
  e.attr_timeout = e.entry_timeout = TIMEOUT;
  fill(ino, &e.attr);
  fuse_reply_create(req, &e, fi);
}
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  int writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
  fi->fh = (uintptr_t)new_handle(ino, writing, (fi->flags & O_TRUNC) != 0);
  fi->direct_io = 1;
  if (!writing) fi->noflush = 1;
  fuse_reply_open(req, fi);
}
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  struct handle* h = (struct handle*)(uintptr_t)fi->fh;
  const char* data = h->writing ? h->buf : nodes[ino].data;
  size_t len = h->writing ? h->len : nodes[ino].size;
  if ((size_t)off >= len) return (void)fuse_reply_buf(req, NULL, 0);
  fuse_reply_buf(req, data + off, len - off < size ? len - off : size);
}
static void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  (void)ino;
  struct handle* h = (struct handle*)(uintptr_t)fi->fh;
  size_t end = off + size;
  if (end > h->cap) h->buf = realloc(h->buf, h->cap = end * 2);
  if ((size_t)off > h->len) memset(h->buf + h->len, 0, off - h->len);
  memcpy(h->buf + off, buf, size);
  if (end > h->len) h->len = end;
  h->dirty = 1;
  fuse_reply_write(req, size);
}
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)ino;
  fuse_reply_err(req, commit_handle((struct handle*)(uintptr_t)fi->fh));
}
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)ino;
  struct handle* h = (struct handle*)(uintptr_t)fi->fh;
  commit_handle(h);
  free(h->buf);
  free(h);
  fuse_reply_err(req, 0);
}
static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  (void)mode;
  if (find(parent, name)) return (void)fuse_reply_err(req, EEXIST);
  uint64_t ino = new_node(parent, name, 1);
  int err = commit(ino, 0);
  if (err) return (void)fuse_reply_err(req, err);
  reply_entry(req, ino);
}
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char* name, int dir) {
  uint64_t ino = find(parent, name);
  if (!ino) return (void)fuse_reply_err(req, ENOENT);
  if (dir && nodes[ino].first) return (void)fuse_reply_err(req, ENOTEMPTY);
  unlink_node(ino);
  fuse_reply_err(req, commit(0, ino));
}
static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) { remove_entry(req, parent, name, 0); }
static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) { remove_entry(req, parent, name, 1); }
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
                      unsigned flags) {
  (void)flags;
  uint64_t ino = find(parent, name);
  if (!ino) return (void)fuse_reply_err(req, ENOENT);
  uint64_t old = find(newparent, newname);
  if (old == ino) return (void)fuse_reply_err(req, 0);
  if (old) {
    if (nodes[old].dir && nodes[old].first) return (void)fuse_reply_err(req, ENOTEMPTY);
    unlink_node(old);
  }
  unlink_node(ino);
  link_node(ino, newparent, newname);
  fuse_reply_err(req, commit(ino, old));
}
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)ino;
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}
static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  (void)fi;
  char* buf = malloc(size);
  size_t used = 0;
  off_t i = 0;
  struct stat st;
  memset(&st, 0, sizeof st);
  for (uint64_t c = nodes[ino].first; c; c = nodes[c].next, i++) {
    if (i < off) continue;
    st.st_ino = c;
    st.st_mode = nodes[c].dir ? S_IFDIR : S_IFREG;
    size_t need = fuse_add_direntry(req, buf + used, size - used, nodes[c].name, &st, i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_init(void* userdata, struct fuse_conn_info* conn) {
  (void)userdata;
  conn->max_write = 1 << 20;
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  conn->time_gran = 1000000000;
}

// The daemon's loop (native/fuse: Session::Serve on libuv), without JavaScript.
static void serve(struct fuse_session* se) {
  const char* v = getenv("PMXCFS_FUSE_SPIN_US");
  long spin_ns = (v ? atol(v) : 50L) * 1000L;
  int fd = fuse_session_fd(se);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct fuse_buf buf;
  memset(&buf, 0, sizeof buf);
  struct pollfd p = {fd, POLLIN, 0};
  while (!fuse_session_exited(se)) {
    if (poll(&p, 1, -1) < 0 && errno != EINTR) break;
    struct timespec since, now;
    int spinning = 0;
    for (int n = 0; n < 64 && !fuse_session_exited(se); n++) {
      int res = fuse_session_receive_buf(se, &buf);
      if (res == -EAGAIN) {
        if (spin_ns <= 0 || n == 0) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!spinning) {
          spinning = 1;
          since = now;
        }
        if ((now.tv_sec - since.tv_sec) * 1000000000L + (now.tv_nsec - since.tv_nsec) > spin_ns) break;
        sched_yield();
        n--;
        continue;
      }
      spinning = 0;
      if (res == -EINTR) continue;
      if (res <= 0) {
        fuse_session_exit(se);
        break;
      }
      fuse_session_process_buf(se, &buf);
    }
  }
  free(buf.mem);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  nodes = calloc(MAX_NODES, sizeof *nodes);
  nodes[1].dir = 1;
  nodes[1].mtime = time(NULL);
  nodes[1].name = "";
  if (argc > 2) {
    if (floor_db_open(&fdb, argv[2])) return 1;
    storing = 1;
  }
  char* av[] = {argv[0], "-o", "allow_other,default_permissions,noatime,fsname=ll-floor", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, av);
  struct fuse_lowlevel_ops ops;
  memset(&ops, 0, sizeof ops);
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.create = op_create;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.mkdir = op_mkdir;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  serve(se);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  if (storing) sqlite3_close(fdb.db);
  return 0;
}
