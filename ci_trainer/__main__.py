import sys

from ci_trainer.cli import main

sys.exit(main())
