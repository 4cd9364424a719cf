"""Runs the amqtt broker (0.12.1) from a YAML configuration, as `amqtt -c FILE` would, for
configurations with the HTTP auth plugins (amqtt.contrib.http), which `amqtt -c` cannot run:

- `amqtt -c` builds the broker outside a running event loop, and the plugins create their
  aiohttp ClientSession in __init__, which aiohttp refuses there ("no running event loop");
- the plugins' `request_method`, `params_mode` and `response_mode` are enums and amqtt
  type-checks plugin configurations strictly (dacite), so the strings a YAML file holds are
  refused ("wrong value type for field request_method").

So this script reads the YAML with amqtt's own reader, turns those three strings into
amqtt's enums, and starts amqtt's Broker inside a running loop, as amqtt's own tests do
(tests/contrib/test_http.py). Everything else is amqtt's code, unchanged.

Usage: python3 amqtt_broker.py broker.yaml   (stops on SIGTERM or SIGINT)
"""

import asyncio
import logging
import signal
import sys

from amqtt.broker import Broker
from amqtt.contrib.http import ParamsMode, RequestMethod, ResponseMode
from amqtt.utils import read_yaml_config

ENUMS = {
    "request_method": RequestMethod,
    "params_mode": ParamsMode,
    "response_mode": ResponseMode,
}


def load(path):
    config = read_yaml_config(path)
    if config is None:
        sys.exit(f"cannot read {path}")
    for name, plugin in (config.get("plugins") or {}).items():
        if name.startswith("amqtt.contrib.http.") and isinstance(plugin, dict):
            for key, enum in ENUMS.items():
                if key in plugin:
                    plugin[key] = enum(plugin[key])
    return config


async def main(path):
    broker = Broker(load(path))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(name)s :: %(levelname)s - %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    asyncio.run(main(sys.argv[1]))
