// C client of bench/cluster-bench.ts, the same binary for this project's cluster and the original's (run inside
// the original's node namespaces). Times are CLOCK_MONOTONIC nanoseconds (one clock for every namespace here, so
// a writer on one node and a reader on another can be compared). Prints one JSON line.
//
//   cluster-client write DIR PREFIX N START_NS   N new 512-byte files DIR/PREFIX-i, one after another, starting at
//                                                 START_NS (0 = now): per file the start and the latency
//   cluster-client poll DIR PREFIX N [PAUSE_US]  waits for DIR/PREFIX-0..N-1 in order (open + read of 512 bytes,
//                                                 PAUSE_US (200) between tries): per file the time it was first readable
//   cluster-client ops DIR N                     create+write+close, overwrite, write tmp + rename, mkdir+rmdir,
//                                                 unlink: ops/s each
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void die(const char* what, const char* path) {
  fprintf(stderr, "%s %s: %s\n", what, path, strerror(errno));
  exit(1);
}
static char buf[512];
static void put(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open", path);
  for (size_t off = 0; off < sizeof buf;) {
    ssize_t n = write(fd, buf + off, sizeof buf - off);
    if (n <= 0) die("write", path);
    off += (size_t)n;
  }
  if (close(fd) != 0) die("close", path);
}
static void sleep_until(long long t) {
  struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}
static void print_array(const char* name, const long long* v, int n) {
  printf("\"%s\":[", name);
  for (int i = 0; i < n; i++) printf(i ? ",%lld" : "%lld", v[i]);
  printf("]");
}

static int cmd_write(const char* dir, const char* prefix, int n, long long start) {
  long long* st = calloc(n, sizeof *st);
  long long* lat = calloc(n, sizeof *lat);
  char path[4096];
  if (start > 0) sleep_until(start);
  long long t0 = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s-%d", dir, prefix, i);
    snprintf(buf, sizeof buf, "%s-%d ", prefix, i);  // content differs per file (sha1 check of the trees)
    st[i] = now_ns();
    put(path);
    lat[i] = now_ns() - st[i];
  }
  long long t1 = now_ns();
  printf("{\"t0\":%lld,\"t1\":%lld,", t0, t1);
  print_array("start", st, n);
  printf(",");
  print_array("lat", lat, n);
  printf("}\n");
  return 0;
}

static int cmd_poll(const char* dir, const char* prefix, int n, long pause_us) {
  long long* seen = calloc(n, sizeof *seen);
  char path[4096], rb[1024];
  long long deadline = now_ns() + 300LL * 1000000000LL;
  struct timespec pause = {pause_us / 1000000, (pause_us % 1000000) * 1000};
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s-%d", dir, prefix, i);
    for (;;) {
      int fd = open(path, O_RDONLY);
      if (fd >= 0) {
        ssize_t got = read(fd, rb, sizeof rb);
        close(fd);
        if (got == 512) break;
      }
      if (now_ns() > deadline) {
        fprintf(stderr, "poll: %s not readable within 300 s\n", path);
        return 1;
      }
      nanosleep(&pause, NULL);
    }
    seen[i] = now_ns();
  }
  printf("{");
  print_array("seen", seen, n);
  printf("}\n");
  return 0;
}

static double rate(int n, long long t0) { return n / ((now_ns() - t0) / 1e9); }

static int cmd_ops(const char* dir, int n) {
  char path[4096], tmp[4096];
  memset(buf, 'o', sizeof buf);
  long long t = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f-%d", dir, i);
    put(path);
  }
  double create = rate(n, t);
  t = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f-%d", dir, i);
    put(path);
  }
  double overwrite = rate(n, t);
  t = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(tmp, sizeof tmp, "%s/r-%d.tmp", dir, i);
    snprintf(path, sizeof path, "%s/r-%d", dir, i);
    put(tmp);
    if (rename(tmp, path) != 0) die("rename", tmp);
  }
  double ren = rate(n, t);
  t = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/d-%d", dir, i);
    if (mkdir(path, 0755) != 0) die("mkdir", path);
    if (rmdir(path) != 0) die("rmdir", path);
  }
  double mkrm = rate(n, t);
  t = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f-%d", dir, i);
    if (unlink(path) != 0) die("unlink", path);
  }
  double unl = rate(n, t);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/r-%d", dir, i);
    if (unlink(path) != 0) die("unlink", path);
  }
  printf("{\"create\":%.1f,\"overwrite\":%.1f,\"rename\":%.1f,\"mkdir_rmdir\":%.1f,\"unlink\":%.1f}\n", create, overwrite,
         ren, mkrm, unl);
  return 0;
}

int main(int argc, char** argv) {
  memset(buf, 'x', sizeof buf);
  if (argc == 6 && !strcmp(argv[1], "write")) return cmd_write(argv[2], argv[3], atoi(argv[4]), atoll(argv[5]));
  if ((argc == 5 || argc == 6) && !strcmp(argv[1], "poll"))
    return cmd_poll(argv[2], argv[3], atoi(argv[4]), argc == 6 ? atol(argv[5]) : 200);
  if (argc == 4 && !strcmp(argv[1], "ops")) return cmd_ops(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: cluster-client write DIR PREFIX N START_NS | poll DIR PREFIX N | ops DIR N\n");
  return 2;
}
