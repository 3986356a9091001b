"""The webhooks example (functions/webhooks) as a Python WASM handler: the same WIT world
(runtime/wit/lockgate.wit), built into a component with componentize-py, run by the same
host. Each message is a delivery {"url": "https://…", "event": "order.created", …}; plain-HTTP
or private hosts and unsubscribed events fail alone. On FIFO queues, once a message fails, the
rest of its group is reported failed without running.

Build (componentize-py from PyPI, pinned in tests/wasm/requirements.txt):
    componentize-py -d runtime/wit -w batch-handler componentize app \
        -p functions/webhooks-py -o webhooks_py.wasm
"""

import json

import wit_world

EVENTS = {"order.created", "order.shipped", "order.cancelled"}


def deliver(message):
    delivery = json.loads(message.body)
    url = delivery["url"]
    if not url.startswith("https://"):
        raise ValueError(f"{url} is not an https URL")
    host = url[len("https://") :].split("/")[0].split(":")[0]
    if not host or host == "localhost" or host.startswith(("127.", "10.")):
        raise ValueError(f"{host} is not a public host")
    if delivery["event"] not in EVENTS:
        raise ValueError(f"no subscription for {delivery['event']}")
    print(f"delivering {delivery['event']} to {url} (attempt {message.receive_count})")


class WitWorld(wit_world.WitWorld):
    def handle_batch(self, context, messages):
        failed, stopped_groups = [], set()
        for message in messages:
            fifo = message.event_source_arn.endswith(".fifo")
            group = message.message_group_id if fifo else None
            if group is not None and group in stopped_groups:
                failed.append(message.message_id)
                continue
            try:
                deliver(message)
            except Exception as error:
                print(f"message {message.message_id} failed: {error}")
                failed.append(message.message_id)
                if group is not None:
                    stopped_groups.add(group)
        return failed
