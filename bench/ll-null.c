// The floor for one FUSE request: a plain C libfuse3 low-level filesystem, single-threaded like this project's
// daemon, with the same mount options (allow_other, default_permissions). It serves the root and one file "f",
// answering GETATTR from a constant struct: no filesystem work at all.
// usage: ll-null MOUNTPOINT   (runs in the foreground until unmounted or SIGTERM)
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void fill(fuse_ino_t ino, struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
  st->st_nlink = ino == 1 ? 2 : 1;
  st->st_size = ino == 1 ? 0 : 512;
}
static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != 1 || strcmp(name, "f") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = 2;
  e.attr_timeout = e.entry_timeout = 1;
  fill(2, &e.attr);
  fuse_reply_entry(req, &e);
}
static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)fi;
  struct stat st;
  fill(ino, &st);
  fuse_reply_attr(req, &st, 1);
}
static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  (void)ino;
  fi->noflush = 1;
  fuse_reply_open(req, fi);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char* av[] = {argv[0], "-o", "allow_other,default_permissions,fsname=ll-null", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, av);
  struct fuse_lowlevel_ops ops;
  memset(&ops, 0, sizeof ops);
  ops.lookup = ll_lookup;
  ops.getattr = ll_getattr;
  ops.open = ll_open;
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  int r = fuse_session_loop(se);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return r < 0 ? 1 : 0;
}
