/* C reference client for bench/corosync-bench.ts: the same CPG measurement as the binding, with libcpg directly.
 *   corosync-bench recv GROUP             join and dispatch until killed
 *   corosync-bench send GROUP N SIZE MEMBERS WINDOW
 *       wait for MEMBERS group members, send N agreed messages of SIZE bytes as fast as flow control allows
 *       (mcast until CS_ERR_TRY_AGAIN or WINDOW messages are in flight, then poll + dispatch), and time each
 *       from send to its own delivery.
 * Prints one JSON line: {"msgs":N,"seconds":S,"msgsPerSec":R,"p50us":..,"p99us":..}
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned int local_id;
static uint32_t my_pid;
static size_t members;
static uint64_t delivered, target;
static double *lat_us;

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len) {
  (void)h; (void)g;
  if (nodeid != local_id || pid != my_pid || len < 8 || !lat_us) return;
  uint64_t t0;
  memcpy(&t0, msg, 8);
  if (delivered < target) lat_us[delivered] = (double)(now_ns() - t0) / 1000.0;
  delivered++;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t mn,
                       const struct cpg_address *l, size_t ln, const struct cpg_address *j, size_t jn) {
  (void)h; (void)g; (void)m; (void)l; (void)ln; (void)j; (void)jn;
  members = mn;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s recv|send GROUP [N SIZE MEMBERS]\n", argv[0]); return 2; }
  int sending = strcmp(argv[1], "send") == 0;
  cpg_callbacks_t cb = { on_deliver, on_confchg };
  cpg_handle_t h;
  if (cpg_initialize(&h, &cb) != CS_OK) { fprintf(stderr, "cpg_initialize failed\n"); return 1; }
  struct cpg_name name;
  memset(&name, 0, sizeof name);
  name.length = strlen(argv[2]);
  memcpy(name.value, argv[2], name.length);
  if (cpg_join(h, &name) != CS_OK) { fprintf(stderr, "cpg_join failed\n"); return 1; }
  cpg_local_get(h, &local_id);
  my_pid = (uint32_t)getpid();
  int fd;
  cpg_fd_get(h, &fd);
  struct pollfd p = { fd, POLLIN, 0 };
  if (!sending) {
    for (;;) {
      if (poll(&p, 1, 1000) < 0) continue;
      if (cpg_dispatch(h, CS_DISPATCH_ALL) == CS_ERR_LIBRARY) return 0;
    }
  }
  if (argc < 6) return 2;
  uint64_t n = strtoull(argv[3], NULL, 10);
  size_t size = strtoul(argv[4], NULL, 10);
  size_t want = strtoul(argv[5], NULL, 10);
  uint64_t window = argc > 6 ? strtoull(argv[6], NULL, 10) : n;
  if (size < 8) size = 8;
  char *buf = calloc(1, size);
  uint64_t deadline = now_ns() + 20000000000ull;
  while (members < want && now_ns() < deadline) {
    poll(&p, 1, 100);
    cpg_dispatch(h, CS_DISPATCH_ALL);
  }
  if (members < want) { fprintf(stderr, "only %zu members\n", members); return 1; }
  target = n;
  lat_us = calloc(n, sizeof(double));
  uint64_t sent = 0, start = now_ns();
  deadline = start + 120000000000ull;
  while (delivered < n && now_ns() < deadline) {
    while (sent < n && sent - delivered < window) {
      uint64_t t = now_ns();
      memcpy(buf, &t, 8);
      struct iovec iov = { buf, size };
      cs_error_t rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
      if (rc == CS_ERR_TRY_AGAIN) break;
      if (rc != CS_OK) { fprintf(stderr, "mcast: %d\n", rc); return 1; }
      sent++;
    }
    poll(&p, 1, 10);
    cpg_dispatch(h, CS_DISPATCH_ALL);
  }
  double secs = (double)(now_ns() - start) / 1e9;
  uint64_t got = delivered < n ? delivered : n;
  qsort(lat_us, got, sizeof(double), cmp);
  printf("{\"msgs\":%llu,\"seconds\":%.4f,\"msgsPerSec\":%.0f,\"p50us\":%.1f,\"p99us\":%.1f}\n", (unsigned long long)got,
         secs, (double)got / secs, got ? lat_us[got / 2] : 0.0, got ? lat_us[(size_t)(got * 0.99)] : 0.0);
  cpg_finalize(h);
  return got == n ? 0 : 1;
}
