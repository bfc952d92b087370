"""The PostgreSQL backends: users, the follow graph and engagement, on asyncpg driven from
trio through trio-asyncio."""

from .database import PostgresDatabase as PostgresDatabase
from .database import open_postgres as open_postgres
from .engagement import PostgresEngagementStore as PostgresEngagementStore
from .graph import PostgresGraphStore as PostgresGraphStore
from .users import PostgresUserStore as PostgresUserStore
