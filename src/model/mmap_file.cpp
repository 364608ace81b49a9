#include "model/mmap_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"

namespace hfk {

namespace {

// Closes the descriptor on every path; the mapping stays valid after close.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::unique_ptr<MappedFile> MappedFile::open(const std::filesystem::path &path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        fail(err == ENOENT ? HFK_E_NOT_FOUND : HFK_E_IO,
             path.string() + ": cannot open: " + std::strerror(err));
    }
    FdCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        fail(HFK_E_IO, path.string() + ": cannot stat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(HFK_E_IO, path.string() + ": not a regular file");
    if (st.st_size < 0 || uint64_t(st.st_size) > SIZE_MAX)
        fail(HFK_E_IO, path.string() + ": file too large to map");

    std::unique_ptr<MappedFile> m(new MappedFile());
    m->path_ = path;
    m->size_ = size_t(st.st_size);
    if (m->size_ == 0) return m;  // mmap of length 0 is EINVAL; an empty span is enough
    void *p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail(HFK_E_IO, path.string() + ": cannot mmap: " + std::strerror(errno));
    m->data_ = static_cast<const std::byte *>(p);
#ifdef MADV_HUGEPAGE
    // Where the page cache holds the file in 2 MiB folios (and whenever populate() reads it
    // from disk, with this hint), the kernel maps it with 2 MiB entries: on the VMs we measured,
    // touching each 4 KiB page of a fresh mapping once costs ~2.5 us, over 100 ms for a 256 MB
    // model, and 2 MiB entries take that to a few ms. Only a hint: ignored where unsupported.
    ::madvise(p, m->size_, MADV_HUGEPAGE);
#endif
    return m;
}

void MappedFile::populate(uint64_t offset, uint64_t length) const {
    if (data_ == nullptr || offset >= size_) return;
    const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = offset / page * page;
    const uint64_t end = std::min<uint64_t>(size_, offset + length);
    void *addr = const_cast<std::byte *>(data_) + begin;
#ifdef MADV_POPULATE_READ
    if (::madvise(addr, end - begin, MADV_POPULATE_READ) == 0) return;
#endif
    ::madvise(addr, end - begin, MADV_WILLNEED);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte *>(data_), size_);
}

}  // namespace hfk
