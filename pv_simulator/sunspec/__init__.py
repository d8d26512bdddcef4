"""SunSpec over Modbus TCP: every served site pollable and controllable as an inverter and meter.

``register_map`` (pure: the models, what each point holds, writes to commands), ``points`` (the
model definitions, generated from pysunspec2's), ``server`` (pymodbus in a thread of its own)
and ``docs`` (the register map table of docs/sunspec.md). See docs/sunspec.md.
"""
