// Bridges a SOCK_SEQPACKET unix socket (conmon's attach socket) to a SOCK_STREAM socket Node can read:
// libuv does not open seqpacket sockets, so a detached thread copies between the two. Each packet from
// conmon ([stream byte][data]) becomes [stream byte][u32 big-endian length][data] on the stream; bytes
// written by Node become packets to conmon (the container's stdin); Node's end of writing becomes
// shutdown(SHUT_WR) on the attach socket (conmon then closes the container's stdin, unless it leaves it
// open), and conmon closing the attach socket (the container exited) ends Node's reading side.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "addon.h"

// conmon's STDIO_BUF_SIZE is 8192, plus its stream byte
#define PACKET_MAX (8192 + 1)

struct bridge {
  int seq;
  int stream;
};

static int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *pump(void *arg) {
  struct bridge *b = arg;
  char packet[PACKET_MAX + 4];
  char input[8192];
  int seq_open = 1, stream_open = 1;
  while (seq_open || stream_open) {
    struct pollfd fds[2] = {{b->seq, seq_open ? POLLIN : 0, 0}, {b->stream, stream_open ? POLLIN : 0, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (seq_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(b->seq, packet + 4, PACKET_MAX, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        seq_open = 0;
        shutdown(b->stream, SHUT_WR);
      } else {
        // [stream][len][data]: move the stream byte in front of the length
        char stream = packet[4];
        uint32_t len = (uint32_t)(n - 1);
        packet[0] = stream;
        packet[1] = (char)(len >> 24);
        packet[2] = (char)(len >> 16);
        packet[3] = (char)(len >> 8);
        // the data now starts at packet + 5; the length's last byte goes where the stream byte was
        packet[4] = (char)len;
        if (write_all(b->stream, packet, (size_t)n + 4) < 0) break;  // Node went away
      }
    }
    if (stream_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(b->stream, input, sizeof input);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;  // Node went away
      if (n == 0) {
        stream_open = 0;
        shutdown(b->seq, SHUT_WR);
        if (!seq_open) break;
      } else if (send(b->seq, input, (size_t)n, MSG_NOSIGNAL) < 0) {
        stream_open = 0;  // conmon no longer takes input; keep reading its output
        shutdown(b->seq, SHUT_WR);
      }
    }
    if (!seq_open && stream_open && (fds[1].revents & (POLLHUP | POLLERR))) break;
  }
  close(b->seq);
  close(b->stream);
  free(b);
  return NULL;
}

// attachBridge(path): connects to the seqpacket socket at path (long paths through /proc/self/fd) and
// returns the fd of Node's end of the bridge.
napi_value AttachBridge(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!exact_args(env, info, argv, 1, "attachBridge(path)")) return NULL;
  char *path = string_arg(env, argv[0]);
  if (!path) {
    napi_throw_type_error(env, NULL, "attachBridge: path must be a string");
    return NULL;
  }
  char *dcopy = strdup(path), *bcopy = strdup(path);
  int dir = open(dirname(dcopy), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int err = errno;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int seq = -1, pair[2] = {-1, -1};
  if (dir < 0) goto fail;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir, basename(bcopy));
  seq = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (seq < 0 || connect(seq, (struct sockaddr *)&addr, sizeof addr) < 0) {
    err = errno;
    goto fail;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
    err = errno;
    goto fail;
  }
  struct bridge *b = malloc(sizeof *b);
  b->seq = seq;
  b->stream = pair[1];
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if ((err = pthread_create(&t, &attr, pump, b)) != 0) {
    pthread_attr_destroy(&attr);
    free(b);
    goto fail;
  }
  pthread_attr_destroy(&attr);
  close(dir);
  free(path);
  free(dcopy);
  free(bcopy);
  napi_value out;
  napi_create_int32(env, pair[0], &out);
  return out;
fail:
  if (dir >= 0) close(dir);
  if (seq >= 0) close(seq);
  if (pair[0] >= 0) close(pair[0]);
  if (pair[1] >= 0) close(pair[1]);
  throw_errno(env, path, err);
  free(path);
  free(dcopy);
  free(bcopy);
  return NULL;
}
