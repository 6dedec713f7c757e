/*
 * Cross-check tooling only, never shipped: the one Apple SDK header that C code of our
 * dependencies (ring) asks for and Linux lacks. `cargo xtask cross` compiles that C for
 * macOS with Debian's clang against this and newlib's portable libc headers, so the Rust
 * on top can be type-checked; nothing built this way is linked or run.
 */
#ifndef CULVERT_TARGET_CONDITIONALS_STUB
#define CULVERT_TARGET_CONDITIONALS_STUB
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_MACCATALYST 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#endif
