"""seedance-bot: photos and a caption in Telegram become a Seedance 2.0 Fast video."""

import os

# python-telegram-bot 22 returns durations (retry_after, video duration) as timedelta when this
# is set, and warns about the old integer form otherwise.
os.environ.setdefault("PTB_TIMEDELTA", "1")
