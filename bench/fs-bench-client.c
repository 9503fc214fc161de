// C twin of bench/fs-bench-client.ts: the same workload and JSON keys, without Node's own per-call cost.
// usage: fs-bench-client DIR [N=1000] [DAEMON_PID|CPU_FILE] [READDIRS=50]
// With it, cpu_<op> is the daemon's CPU time per operation in us: from CPU_FILE (ns, e.g. a cpuacct cgroup's
// cpuacct.usage) or from the schedstat of the live threads of DAEMON_PID.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int daemon_pid;
static const char* daemon_cpu_file;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(const char* what, const char* path) {
  perror(path);
  fprintf(stderr, "%s failed\n", what);
  exit(1);
}
static double daemon_ns(void) {
  if (daemon_cpu_file) {
    FILE* f = fopen(daemon_cpu_file, "r");
    double v = 0;
    if (f && fscanf(f, "%lf", &v) != 1) v = 0;
    if (f) fclose(f);
    return v;
  }
  if (!daemon_pid) return 0;
  char p[256];
  snprintf(p, sizeof p, "/proc/%d/task", daemon_pid);
  DIR* d = opendir(p);
  if (!d) return 0;
  double ns = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char q[512];
    snprintf(q, sizeof q, "/proc/%d/task/%s/schedstat", daemon_pid, e->d_name);
    FILE* f = fopen(q, "r");
    if (!f) continue;
    double v;
    if (fscanf(f, "%lf", &v) == 1) ns += v;
    fclose(f);
  }
  closedir(d);
  return ns;
}
static void put(const char* path, const char* buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open", path);
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n <= 0) die("write", path);
    off += n;
  }
  if (close(fd) != 0) die("close", path);
}
/* like Node's readFileSync: open, fstat, read the size, close */
static void get(const char* path) {
  static char rbuf[65536];
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open", path);
  struct stat st;
  if (fstat(fd, &st)) die("fstat", path);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, rbuf, sizeof rbuf);
    if (n < 0) die("read", path);
    if (n == 0) break;
    got += n;
  }
  close(fd);
}
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static char dir[4096];
static char (*names)[4200];
static int n;
static double t0, c0;
static void start(void) {
  c0 = daemon_ns();
  t0 = now();
}
static void stop(const char* key, int count) {
  double s = now() - t0;
  double cpu = (daemon_ns() - c0) / 1e3 / count;
  printf("\"%s\":%.1f,\"cpu_%s\":%.2f,", key, count / s, key, cpu);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  snprintf(dir, sizeof dir, "%s", argv[1]);
  n = argc > 2 ? atoi(argv[2]) : 1000;
  if (argc > 3 && argv[3][0] == '/') daemon_cpu_file = argv[3];
  else daemon_pid = argc > 3 ? atoi(argv[3]) : 0;
  int readdirs = argc > 4 ? atoi(argv[4]) : 50;
  if (mkdir(dir, 0755)) die("mkdir", dir);
  names = calloc(n, sizeof *names);
  for (int i = 0; i < n; i++) snprintf(names[i], sizeof names[i], "%s/f%05d.cfg", dir, i);
  static char a[512], b[512], tmp[4300], p[4300];
  memset(a, 'a', sizeof a);
  memset(b, 'b', sizeof b);
  printf("{");
  start();
  for (int i = 0; i < n; i++) put(names[i], a, sizeof a);
  stop("create", n);
  start();
  for (int i = 0; i < n; i++) get(names[i]);
  stop("read", n);
  start();
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st)) die("stat", names[i]);
  }
  stop("stat", n);
  start();
  for (int i = 0; i < n; i++) put(names[i], b, sizeof b);
  stop("overwrite", n);
  start();
  for (int i = 0; i < n; i++) {
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", names[i], (int)getpid());
    put(tmp, a, sizeof a);
    if (rename(tmp, names[i])) die("rename", tmp);
  }
  stop("rename", n);
  double* ms = calloc(readdirs, sizeof(double));
  double rc0 = daemon_ns();
  for (int k = 0; k < readdirs; k++) {
    double t = now();
    DIR* d = opendir(dir);
    if (!d) die("opendir", dir);
    int c = 0;
    struct dirent* e;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.') c++;
    closedir(d);
    ms[k] = (now() - t) * 1e3;
    if (c != n) die("readdir count", dir);
  }
  qsort(ms, readdirs, sizeof(double), cmp);
  printf("\"readdir_ms\":%.4f,\"cpu_readdir\":%.2f,", readdirs % 2 ? ms[readdirs / 2] : (ms[readdirs / 2 - 1] + ms[readdirs / 2]) / 2,
         (daemon_ns() - rc0) / 1e3 / readdirs);
  start();
  for (int i = 0; i < n; i++)
    if (unlink(names[i])) die("unlink", names[i]);
  stop("unlink", n);
  start();
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/d%d", dir, i);
    if (mkdir(p, 0755)) die("mkdir", p);
    if (rmdir(p)) die("rmdir", p);
  }
  stop("mkdir_rmdir", n);
  if (rmdir(dir)) die("rmdir", dir);
  printf("\"n\":%d}\n", n);
  return 0;
}
