import sys

from gpu_device_plugin.cli import main

sys.exit(main())
