"""The embedded backends: everything in this process, the real topology played by actors."""

from .eventlog import MemoryEventLog as MemoryEventLog
from .partition import Retention as Retention
