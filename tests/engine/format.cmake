# edgefarm_add_test(NAME engine_format_test ... LIBS edgefarm_engine LABELS unit)
