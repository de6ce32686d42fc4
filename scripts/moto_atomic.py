"""moto_server, with DynamoDB's writes made atomic. Run as
`python3 scripts/moto_atomic.py -H HOST -p PORT` (moto_server's arguments);
scripts/stack.sh runs moto this way.

DynamoDB evaluates a write's condition and makes the write as one step: of
two UpdateItems conditional on the same leaseCounter, one passes and the
other is refused. moto 5.2 checks the condition and then writes, in
request threads of its own and without a lock, so two such writes at the
same moment can both pass. Two lease workers started together on a new
table then both took the same shard (e2e/lease_reshard saw it: both takes
of counter 0 answered 200), and one of them found it lost at its first
renewal. Here DynamoDB's requests are handled one at a time (a lock around
moto's handler); nothing else changes, and other services stay concurrent.
"""
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _call_action_atomic(self):
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _call_action_atomic

if __name__ == "__main__":
    main(sys.argv[1:])
