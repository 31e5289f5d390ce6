"""Runs moto's server with DynamoDB requests applied one at a time.

moto serves requests on many threads, and its DynamoDB backend does not
isolate concurrent writes: two transactions that ADD to the same counter can
lose one update (seen here: 479 of 480). Real DynamoDB applies each item
write atomically, so the local stack serialises DynamoDB calls to behave
the same. Other services (SQS long polls above all) stay concurrent.
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_DYNAMODB = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _DYNAMODB:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action

if __name__ == "__main__":
    main(sys.argv[1:])
