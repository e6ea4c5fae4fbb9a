"""``python -m wow_ai_hub.cli``: the ``wow-ai-ml`` command, named so (in the audit log too)."""

import sys

from wow_ai_hub.cli.main import main

sys.argv[0] = "wow-ai-ml"
sys.exit(main())
