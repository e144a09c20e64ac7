#pragma once
// Functions of a library loaded at run time (dlopen), not linked, so that no tool loads it at
// start-up: libpcap for capture filters (io/capture), libbpf for the listener queues
// (sockets/listen_queues).
#include <dlfcn.h>

namespace tcpkit {

// Sets `slot` to `symbol` of `handle`, typed as the slot is; false when the library lacks it.
template <class Function>
bool load_symbol(void* handle, const char* symbol, Function*& slot) {
  slot = reinterpret_cast<Function*>(dlsym(handle, symbol));
  return slot != nullptr;
}

}  // namespace tcpkit
