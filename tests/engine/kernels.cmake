# edgefarm_add_test(NAME engine_kernels_test ... LIBS edgefarm_engine LABELS unit)
