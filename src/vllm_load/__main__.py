import sys

from vllm_load.cli import main

sys.exit(main())
