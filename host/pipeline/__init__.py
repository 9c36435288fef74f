"""The host pipeline: the bridge's boards heard, answered, shown and spoken to.

    pocket bridge --agent offline      # the default; --agent llm, or --agent none for the bridge alone

See core.py for the flow and docs/pipeline.md for the steps it reports.
"""

from .core import AGENTS, Pipeline, PipelineSettings, describe


async def serve(bridge_settings, pipeline_settings=None, ready=None, listeners=()):
    """Run the bridge, with the pipeline unless `pipeline_settings` is None, until the bridge stops.
    `ready(bridge, pipeline)` is called once both run."""
    from pocket_agent.host.bridge.bridge import Bridge

    bridge = Bridge(bridge_settings)
    pipeline = None
    try:
        if pipeline_settings is not None and pipeline_settings.agent != "none":
            pipeline = Pipeline(bridge, pipeline_settings, listeners)
            pipeline.start()  # before the bridge: it sees every board come online
        await bridge.start()
        if ready:
            ready(bridge, pipeline)
        await bridge.stopped.wait()
    finally:
        if pipeline is not None:
            await pipeline.stop()
        if not bridge.stopped.is_set():
            await bridge.stop()


__all__ = ["AGENTS", "Pipeline", "PipelineSettings", "describe", "serve"]
