// ESRUN_ADDRESS_SANITIZER is defined when AddressSanitizer instruments this build (gcc's and
// clang's ways of saying so); the sanitizer build is scripts/sanitize.sh's.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define ESRUN_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ESRUN_ADDRESS_SANITIZER 1
#endif
#endif
