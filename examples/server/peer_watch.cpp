#include "peer_watch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace server {
namespace {

// addr as text and port of a socket address (IPv4 or IPv6), as httplib writes them.
bool address_of(const sockaddr_storage &ss, std::string &addr, int &port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
        if (!inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) return false;
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
        if (!inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf)) return false;
        port = ntohs(a->sin6_port);
    } else {
        return false;
    }
    addr = buf;
    return true;
}

bool matches(int fd, const std::string &local_addr, int local_port, const std::string &remote_addr,
             int remote_port) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    std::string addr;
    int port = -1;
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0 ||
        !address_of(ss, addr, port) || port != remote_port || addr != remote_addr)
        return false;
    if (local_port < 0) return true;  // httplib 0.11 declares local_addr/port but never sets them
    len = sizeof ss;
    return getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0 &&
           address_of(ss, addr, port) && port == local_port && addr == local_addr;
}

int find_socket(const std::string &local_addr, int local_port, const std::string &remote_addr,
                int remote_port) {
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return -1;
    int found = -1;
    while (dirent *e = readdir(dir)) {
        char *end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
        // getpeername() alone: it fails on anything but a connected socket (ENOTSOCK,
        // ENOTCONN, EBADF). The numbers scanned belong to other threads, which may close and
        // reuse them meanwhile; asking one for its peer is atomic in the kernel, and a reused
        // number names another connection, whose address pair cannot equal ours while ours is
        // open. (An fstat() first added nothing and is, to ThreadSanitizer, a read of each
        // descriptor racing with its owner's open() and close().)
        if (matches(static_cast<int>(fd), local_addr, local_port, remote_addr, remote_port)) {
            found = static_cast<int>(fd);
            break;
        }
    }
    closedir(dir);
    return found;
}

}  // namespace

PeerWatch::PeerWatch(const std::string &local_addr, int local_port, const std::string &remote_addr,
                     int remote_port)
    : local_addr_(local_addr),
      remote_addr_(remote_addr),
      local_port_(local_port),
      remote_port_(remote_port) {}

bool PeerWatch::gone() {
    // The descriptor stays this connection's while its handler runs: httplib closes it only
    // after the handler returns.
    if (fd_ == -2) fd_ = find_socket(local_addr_, local_port_, remote_addr_, remote_port_);
    if (fd_ < 0) return false;
    char c;
    const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;  // orderly shutdown by the client
    if (n < 0) return errno == ECONNRESET || errno == EPIPE;
    return false;  // bytes waiting: a pipelined next request, the client is there
}

}  // namespace server
