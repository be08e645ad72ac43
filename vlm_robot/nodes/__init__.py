"""The ROS 2 nodes.

Imported before any node module (and so before numpy): OpenBLAS is kept to one thread in every node process
unless the user set ``OPENBLAS_NUM_THREADS``. numpy's and OpenCV's OpenBLAS each start a thread per core at
import, and at exit the C library's finaliser joins them (``gotoblas_quit`` -> ``blas_thread_shutdown_``).
That join sometimes never returned: about 1 stop in 25 of the reasoning node under CPU load hung there after
Python had finalised (gdb: the main thread in ``pthread_join`` from ``_dl_fini``, the BLAS thread in its
``pthread_cond_wait``) until the launcher killed it 15 s later. With one thread there is nothing to join; the
nodes' matrices are small (the models run in ONNX Runtime, llama.cpp and CTranslate2, with their own threads),
and on a 2-core robot the extra threads only compete with the other nodes.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
