# Sanitizer settings for esrun's sanitizer build (scripts/sanitize.sh, scripts/fuzz.sh): sourced.
# Every report ends the process with an error; UBSan prints where. Suppressions live beside this
# file, each explained; there are none for esrun's own code. alloc_dealloc_mismatch=0: the
# SentencePiece module, loaded deep-bound, allocates through libstdc++'s operator new, which ASan
# records as malloc; esrun's operator delete of such a string would be reported as a mismatch
# (lib/esrun/data/tokenizer.cpp, open_module). allocator_may_return_null=1: an allocation larger
# than ASan can make returns null, as the C library's malloc does, for the reader to report.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ASAN_OPTIONS="allocator_may_return_null=1:alloc_dealloc_mismatch=0:abort_on_error=0:halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
