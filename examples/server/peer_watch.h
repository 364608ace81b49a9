// Whether the client of a non-streaming request is still there. Debian's cpp-httplib 0.11 does
// not hand a handler its socket (no Request::is_connection_closed), so the socket is found by
// its address pair among the process's descriptors, once, and then peeked: a read of 0 bytes
// means the client closed its side (FIN). A client that only half-closes (shutdown SHUT_WR)
// while still reading looks gone too; HTTP clients do not do that.
#pragma once

#include <string>

namespace server {

class PeerWatch {
  public:
    // The connection local_addr:local_port <- remote_addr:remote_port (as httplib reports it;
    // a local_port < 0, which is what httplib 0.11 leaves there, matches on the remote alone:
    // the client's address and ephemeral port name one connection of this server).
    PeerWatch(const std::string &local_addr, int local_port, const std::string &remote_addr,
              int remote_port);
    // True once the client has closed its side. Cheap (one non-blocking peek) after the first
    // call, which looks the socket up; false when the socket cannot be found.
    bool gone();

  private:
    std::string local_addr_, remote_addr_;
    int local_port_, remote_port_;
    int fd_ = -2;  // -2: not looked up yet; -1: not found
};

}  // namespace server
