# edgefarm_add_test(NAME engine_model_test ... LIBS edgefarm_engine LABELS unit)
