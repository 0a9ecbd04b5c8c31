# The Jupyter kernel, driven by Jupyter's own Python client (Debian's python3-jupyter-client, python3-nbclient,
# python3-nbformat, jupyter-nbconvert; tools/setup.sh installs them). Included from the top CMakeLists.txt.
# Each test exits 77 when those packages are missing: a failure, never a silent skip. Timeouts are generous: the suites start
# kernels and run whole notebooks, on machines that may be loaded.
add_test(NAME kernel_jupyter
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/kernel/test_kernel.py $<TARGET_FILE:tortuga_host> ${PROJECT_SOURCE_DIR}
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
add_test(NAME kernel_notebooks
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/kernel/test_notebooks.py $<TARGET_FILE:tortuga_host> ${PROJECT_SOURCE_DIR}
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(kernel_jupyter kernel_notebooks PROPERTIES TIMEOUT 1800
  ENVIRONMENT "TMPDIR=${PROJECT_BINARY_DIR}/tmp;PYTHONDONTWRITEBYTECODE=1")
