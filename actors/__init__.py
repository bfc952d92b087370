"""A small OTP-style actor runtime on trio: actors with bounded mailboxes, supervisors with
restart strategies and intensity, and a system that names, kills and describes them.

It knows nothing of chirp and could ship as a library of its own.
"""

from ._actor import Actor as Actor
from ._actor import ActorRef as ActorRef
from ._actor import Ask as Ask
from ._actor import ask_all as ask_all
from ._errors import ActorCrashed as ActorCrashed
from ._errors import ActorError as ActorError
from ._errors import ActorKilled as ActorKilled
from ._errors import ActorUnavailable as ActorUnavailable
from ._errors import AskFailed as AskFailed
from ._errors import AskTimeout as AskTimeout
from ._errors import NoSuchActor as NoSuchActor
from ._errors import SupervisorGaveUp as SupervisorGaveUp
from ._spec import ActorSpec as ActorSpec
from ._spec import ChildSpec as ChildSpec
from ._spec import Restart as Restart
from ._spec import Strategy as Strategy
from ._spec import SupervisorSpec as SupervisorSpec
from ._system import ActorSystem as ActorSystem
from ._ticker import Ticker as Ticker
