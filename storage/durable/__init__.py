"""Durable embedded storage: a crash-safe journal with group commit, and snapshots.

Start-up loads `latest_snapshot`, opens the `Journal` and replays it after the snapshot's
seq; every mutation is then `Journal.append`\\ ed as it is applied and acknowledged once
`Journal.durable` returns; from time to time a snapshot lets `Journal.truncate_before` drop
the segments it covers. `DurableStores` does all of that for chirp's embedded stores, and
hands a start-up the entries after the horizon (`storage.durable.horizon`) to repair the
writes a crash cut short.
"""

from .codec import Codec as Codec
from .files import Fsync as Fsync
from .frames import MAX_FRAME_BYTES as MAX_FRAME_BYTES
from .horizon import HORIZON as HORIZON
from .journal import SEGMENT_BYTES as SEGMENT_BYTES
from .journal import Journal as Journal
from .journal import JournalCorrupt as JournalCorrupt
from .journal import JournalError as JournalError
from .journal import JournalFailed as JournalFailed
from .journal import JournalInUse as JournalInUse
from .records import records_codec as records_codec
from .snapshots import latest_snapshot as latest_snapshot
from .snapshots import prune_snapshots as prune_snapshots
from .snapshots import snapshot_seqs as snapshot_seqs
from .snapshots import write_snapshot as write_snapshot
from .stores import DurableStores as DurableStores
from .stores import Entries as Entries
from .stores import Recovery as Recovery
from .stores import RecoveryFailed as RecoveryFailed
