"""Native runtime: the LLVM engine (jit), C-API declarations (capi), pinned Python objects
(objects) and METH_FASTCALL entry thunks (entry).  Imported only when something is compiled."""
