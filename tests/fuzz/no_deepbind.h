// For the targets that tokenise (glue, text_lm, tokenizer). esrun loads its SentencePiece module
// (data/tokenizer.cpp) with dlopen(RTLD_LOCAL | RTLD_DEEPBIND), so that Debian's libsentencepiece
// binds to its own protobuf-lite (3.14) rather than the process's libprotobuf (3.21: loading it
// without DEEPBIND dies in protobuf's version check). AddressSanitizer's dlopen interceptor refuses
// every RTLD_DEEPBIND and kills the process ("incompatible with sanitizer runtime",
// google/sanitizers#611), because a deep-bound library would call libc's malloc instead of ASan's.
// Here that does not happen: the module's allocations go through libstdc++'s operator new, which
// was bound to ASan's malloc when libstdc++ was loaded at start-up. So this dlopen, defined in the
// fuzz executable (it takes the place of ASan's interceptor, a weak alias), passes deep-bound
// loads straight to the C library and every other load to ASan's interceptor. The module itself
// is built with the sanitizers and libFuzzer's coverage like the rest of esrun; libsentencepiece
// is Debian's (not instrumented). (lib/esrun/data/tokenizer.cpp's open_module now does the same in
// ASan builds; then this dlopen only sees the other, ordinary loads, and the header can go once
// every fuzzing build has that.)
// One ASan check is off in these targets: memory the module allocates with libstdc++'s operator
// new (which ASan sees as malloc, under DEEPBIND) is freed by esrun's operator delete (ASan's), a
// false alloc-dealloc mismatch at every std::string or vector that crosses the boundary.
#pragma once

#include <dlfcn.h>

extern "C" void* __interceptor_dlopen(const char* filename, int flag);

extern "C" void* dlopen(const char* filename, int flag) {
  using Dlopen = void* (*)(const char*, int);
  static const Dlopen libc_dlopen = reinterpret_cast<Dlopen>(dlsym(RTLD_NEXT, "dlopen"));
  if ((flag & RTLD_DEEPBIND) != 0 && libc_dlopen != nullptr) return libc_dlopen(filename, flag);
  return __interceptor_dlopen(filename, flag);
}

extern "C" const char* __asan_default_options() { return "alloc_dealloc_mismatch=0"; }
