/*
 * Test tooling only, never shipped: wine 8.0 has no bcryptprimitives.dll, whose
 * ProcessPrng Rust's std on Windows imports for its random numbers, so no Rust .exe
 * loads under it. This stand-in exports ProcessPrng over advapi32's RtlGenRandom
 * (SystemFunction036), which wine has. `cargo xtask cross` builds it with mingw and
 * puts it in the test wine prefix's system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
