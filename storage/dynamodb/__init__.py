"""The DynamoDB backend: the tweet store (the seed's tweets table and its indexes)."""

from .database import DynamoDatabase as DynamoDatabase
from .database import open_dynamodb as open_dynamodb
from .tweets import DynamoTweetStore as DynamoTweetStore
from .tweets import TweetTables as TweetTables
