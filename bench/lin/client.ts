// The client that runs operations on one node's mount and prints each one with its times (CLOCK_MONOTONIC, µs, the
// same clock as the harness's performance.timeOrigin-free `monotonicUs()`), one JSON line per event.
//
// Keys live in MOUNT/lin/. Plain registers (k0, k1): read = the whole file, write = a new tmp file (O_EXCL) with a
// unique value, then rename over the key; the write takes effect at the rename only, so a tmp file that failed in
// any way means "not applied". CAS registers (k2, k3) are changed only under their lock dir lin/locks/KEY:
// mkdir (acquire; EEXIST = held by someone), read the key, write tmp + rename (the compare-and-set: from the value
// read to a unique new one), rmdir (release). The read under the lock is fresh: the mkdir was applied at this node
// after every change before it in the cluster's total order, including the last holder's rename and rmdir.
// After an acquire or release with an indeterminate answer the client leaves that lock alone for the rest of the
// cycle (it cannot tell whether it holds it; retrying could remove another client's lock); the harness clears
// locks between cycles. A definite refusal of the release (EACCES: no quorum) is retried: the lock is still ours.
//
// Errors: EACCES, EROFS, EPERM = definitely not applied ('failed'); anything else (ENOTCONN, ECONNABORTED, EIO:
// the daemon went away) = 'unknown'. After an unknown the client re-enters MOUNT/lin (a restarted daemon mounts
// anew; until then the path is missing and the client waits), so it never writes into the bare directory.
export const CLIENT_PY = String.raw`
import os, sys, errno, json, time, random
mnt, cid, seed, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
plain = sys.argv[5].split(',')
caskeys = sys.argv[6].split(',')
rnd = random.Random(seed)
DEFINITE = {errno.EACCES, errno.EROFS, errno.EPERM}
base = os.path.join(mnt, 'lin')
seq = 0
def now(): return time.monotonic_ns() // 1000
def out(d):
    sys.stdout.write(json.dumps(d) + '\n'); sys.stdout.flush()
def ename(e): return errno.errorcode.get(e.errno, str(e.errno))
def cls(e): return 'failed' if e.errno in DEFINITE else 'unknown'
def nid():
    global seq
    seq += 1
    return '%s-%d' % (cid, seq)
def enter():
    while not os.path.exists(stop):
        try:
            os.chdir(base); os.stat('k0'); return True
        except OSError:
            time.sleep(0.1)
    return False
def begin(op, k, **kw):
    i = nid()
    d = {'e': 'i', 'id': i, 'op': op, 'k': k}
    d.update(kw); out(d)
    return i
def done(i, call, o, **kw):
    d = {'e': 'r', 'id': i, 'call': call, 'ret': now(), 'o': o}
    d.update(kw); out(d)
def read(k):
    i = begin('read', k); call = now()
    try:
        with open(k, 'rb') as f: v = f.read().decode()
        done(i, call, 'ok', v=v); return ('ok', v)
    except FileNotFoundError:
        # keys are never removed: ENOENT is the open racing a rename over the key (the original does the same)
        done(i, call, 'enoent', err='ENOENT'); return ('enoent', None)
    except OSError as e:
        done(i, call, cls(e), err=ename(e)); return (cls(e), None)
def put(k, v):
    # tmp + rename; returns the outcome of the change of k
    tmp = '.tmp-%s-%d' % (cid, seq)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try: os.write(fd, v.encode())
        finally: os.close(fd)
    except OSError as e:
        return ('failed', 'tmp:' + ename(e), cls(e))
    try:
        os.rename(tmp, k); return ('ok', None, None)
    except OSError as e:
        try: os.unlink(tmp)
        except OSError: pass
        return (cls(e), 'rename:' + ename(e), cls(e))
def write(k):
    v = 'w-%s-%d' % (cid, seq + 1)
    i = begin('write', k, v=v); call = now()
    o, err, c = put(k, v)
    done(i, call, o, v=v, err=err)
    return c
avoid = set()
pending = set()
def lockop(op, k):
    i = begin(op, k); call = now()
    try:
        (os.mkdir if op == 'acquire' else os.rmdir)('locks/' + k)
        done(i, call, 'ok'); return 'ok'
    except FileExistsError:
        done(i, call, 'refused', err='EEXIST'); return 'refused'
    except FileNotFoundError:
        done(i, call, 'refused', err='ENOENT'); return 'refused'
    except OSError as e:
        done(i, call, cls(e), err=ename(e)); return cls(e)
def release(k):
    o = lockop('release', k)
    if o == 'failed': pending.add(k)
    else:
        pending.discard(k)
        if o == 'unknown': avoid.add(k)
    return o
def cas(k):
    o = lockop('acquire', k)
    if o == 'unknown': avoid.add(k)
    if o != 'ok': return o
    ro, v = read(k)
    if ro == 'ok':
        to = 'c-%s-%d' % (cid, seq + 1)
        i = begin('cas', k, frm=v, to=to); call = now()
        co, err, c = put(k, to)
        done(i, call, co, frm=v, to=to, err=err)
        if c == 'unknown': enter()
    return release(k)
enter()
while not os.path.exists(stop):
    for k in list(pending):
        if release(k) == 'unknown': enter()
    p = rnd.random()
    if p < 0.45: o = read(rnd.choice(plain + caskeys))[0]
    elif p < 0.75: o = write(rnd.choice(plain))
    else:
        ks = [k for k in caskeys if k not in avoid and k not in pending]
        o = cas(rnd.choice(ks)) if ks else 'ok'
    if o == 'unknown': enter()
    time.sleep(rnd.random() * 0.02)
out({'e': 'end'})
`;
