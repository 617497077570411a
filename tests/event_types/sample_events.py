"""Event types as an application declares them at import time (read by the documentation tests)."""

from eventtracking import tracker
from eventtracking.tracker import Tracker

tracker.register(
    "edx.video.played",
    "A learner started a video.",
    {"position": "Seconds from the start.", "video_id": "The video's id."},
)
# The type changed in a later release: a second version, with one more field.
tracker.register(
    "edx.video.played",
    "A learner started a video.",
    {"position": "Seconds from the start.", "video_id": "The video's id.", "speed": "Playback speed | 1.0 is normal."},
)
tracker.register("edx.problem.checked", "A learner submitted an answer.", {"problem_id": "The problem's usage key."})
tracker.register_context("request", "An HTTP request.", {"user_id": "Who made it.", "ip": "From where."})

# A tracker of the module's own: what it registers is documented too.
REPORTS = Tracker(backends={})
REPORTS.register("report.generated", "A <report> was generated.", {"report": "Its name."})
