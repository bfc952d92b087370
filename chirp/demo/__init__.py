"""Demo mode (``python main.py --demo``): a fresh embedded chirp seeded with a believable
network and some history, and a trickle of activity so feeds and trends move."""

from .graph import FollowGraph as FollowGraph
from .graph import power_law as power_law
from .graph import read_reed98 as read_reed98
from .graph import reed98 as reed98
from .mode import DEFAULT_RATE as DEFAULT_RATE
from .mode import DEFAULT_USERS as DEFAULT_USERS
from .mode import GRAPHS as GRAPHS
from .mode import Demo as Demo
from .mode import demo_graph as demo_graph
from .mode import demo_settings as demo_settings
from .people import Person as Person
from .people import invent_people as invent_people
from .seed import DEMO_PASSWORD as DEMO_PASSWORD
from .seed import History as History
from .seed import Seeded as Seeded
from .seed import seed as seed
from .trickle import TRICKLE as TRICKLE
from .trickle import Trickle as Trickle
