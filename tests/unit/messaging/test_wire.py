"""The reading message: encoding, and the gate that refuses malformed bodies."""

from __future__ import annotations

import json
import unittest
from collections import Counter
from random import Random

from parameterized import parameterized

from pv_simulator.messaging.port import QUEUE_PER_METER, Layout
from pv_simulator.messaging.wire import (
    MAX_BODY_BYTES,
    MAX_READINGS_PER_MESSAGE,
    BadReading,
    Reading,
    ReadingEncoder,
    decode,
    decode_all,
    pack,
)

#: Malformed bodies for queue Meter_0, each with what the refusal must name.
#: The fault tests publish the same corpus to the real broker.
MALFORMED: list[tuple[str, bytes, str]] = [
    ("not_utf8", b"\xff\xfe\x00garbage", "UTF-8"),
    ("not_json", b"meter_id=Meter_0", "not JSON"),
    ("empty", b"", "not JSON"),
    ("truncated", b'{"meter_id": "Meter_0", "time_s": 17', "not JSON"),
    ("array", b'[1, 2, 3]', "not an object"),
    ("number", b"42", "not an object"),
    ("missing_power", b'{"meter_id": "Meter_0", "time_s": 1782000000}', "'power_w' is missing"),
    ("missing_time", b'{"meter_id": "Meter_0", "power_w": 100}', "'time_s' is missing"),
    ("extra_field", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": 1, "x": 1}',
     "unexpected field 'x'"),
    ("time_string", b'{"meter_id": "Meter_0", "time_s": "1782000000", "power_w": 1}',
     "'time_s' is not a number"),
    ("power_bool", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": true}',
     "'power_w' is not a number"),
    ("id_number", b'{"meter_id": 0, "time_s": 1782000000, "power_w": 1}',
     "'meter_id' is not a string"),
    ("time_nan", b'{"meter_id": "Meter_0", "time_s": NaN, "power_w": 1}', "not JSON"),
    ("time_inf", b'{"meter_id": "Meter_0", "time_s": 1e999, "power_w": 1}', "not a finite"),
    ("time_before_1970", b'{"meter_id": "Meter_0", "time_s": -5, "power_w": 1}', "1970..2200"),
    ("time_after_2200", b'{"meter_id": "Meter_0", "time_s": 9e9, "power_w": 1}', "1970..2200"),
    ("power_negative", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": -0.5}',
     "outside 0..9000"),
    ("power_too_high", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": 9000.5}',
     "outside 0..9000"),
    ("power_infinite", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": -1e999}',
     "not a finite"),
    ("other_meter", b'{"meter_id": "Meter_1", "time_s": 1782000000, "power_w": 1}',
     "differs from its queue"),
    ("too_big", b'{"meter_id": "Meter_0", "time_s": 1782000000, "power_w": 1, "pad": "'
     + b"x" * 70_000 + b'"}', "byte limit"),
]


class ReadingTest(unittest.TestCase):
    @parameterized.expand([(0.0, 0.0), (1782000000.0, 1234.5), (1782000000.25, 9000.0)])
    def test_round_trip(self, time_s: float, power_w: float) -> None:
        body = ReadingEncoder("Meter_0")(time_s, power_w)
        self.assertEqual(set(json.loads(body)), {"meter_id", "time_s", "power_w"})
        reading = decode(body, "Meter_0", 9000.0)
        self.assertEqual((reading.meter_id, reading.time_s), ("Meter_0", time_s))
        self.assertAlmostEqual(reading.power_w, power_w, places=3)

    def test_id_is_json_quoted(self) -> None:
        body = ReadingEncoder('we"ird')(1.0, 2.0)
        self.assertEqual(json.loads(body)["meter_id"], 'we"ird')

    @parameterized.expand(MALFORMED)
    def test_malformed_is_refused_with_reason(self, _name: str, body: bytes, reason: str) -> None:
        with self.assertRaises(BadReading) as caught:
            decode(body, "Meter_0", 9000.0)
        self.assertIn(reason, str(caught.exception))
        self.assertNotIn("\n", str(caught.exception))

    def test_power_limit_follows_configuration(self) -> None:
        body = ReadingEncoder("M")(1.0, 5000.0)
        self.assertEqual(decode(body, "M", 6000.0).power_w, 5000.0)
        with self.assertRaises(BadReading):
            decode(body, "M", 4000.0)



class QueuePerMeterDecodeTest(unittest.TestCase):
    def test_a_reading_is_accepted_on_its_own_queue_only(self) -> None:
        body = ReadingEncoder("A")(1782000000.0, 10.0)
        self.assertEqual(decode(body, "A", 9000.0).meter_id, "A")
        with self.assertRaises(BadReading):
            decode(body, "B", 9000.0)


class PartitionedDecodeTest(unittest.TestCase):
    layout = Layout(partitions=4)

    @parameterized.expand([("right_queue", "Meter_0", True), ("path", "../etc", False),
                           ("newline", "Meter_0\n", False), ("dlq_like", "x.dlq", False)])
    def test_only_valid_ids_on_their_own_partition(self, _name: str, meter_id: str,
                                                   valid: bool) -> None:
        body = json.dumps({"meter_id": meter_id, "time_s": 1782000000, "power_w": 1}).encode()
        home = self.layout.queue_of(meter_id)
        if valid:
            self.assertEqual(decode(body, home, 9000.0, self.layout).meter_id, meter_id)
        else:
            with self.assertRaises(BadReading):
                decode(body, home, 9000.0, self.layout)
        other = self.layout.partition_queue((self.layout.partition_of(meter_id) + 1) % 4)
        with self.assertRaises(BadReading):
            decode(body, other, 9000.0, self.layout)

    def body(self, meter_id: str) -> bytes:
        return ReadingEncoder(meter_id)(1782000000.0, 10.0)

    def test_a_reading_on_its_partition_is_accepted(self) -> None:
        queue = self.layout.queue_of("Meter_5")
        reading = decode(self.body("Meter_5"), queue, 9000.0, self.layout)
        self.assertEqual(reading.meter_id, "Meter_5")

    def test_a_reading_on_another_partition_names_its_own(self) -> None:
        home = self.layout.queue_of("Meter_5")
        other = next(self.layout.partition_queue(i) for i in range(4)
                     if self.layout.partition_queue(i) != home)
        with self.assertRaises(BadReading) as caught:
            decode(self.body("Meter_5"), other, 9000.0, self.layout)
        self.assertIn(f"belongs on queue {home!r}", str(caught.exception))

    def test_an_id_that_cannot_be_a_file_name_is_refused(self) -> None:
        body = b'{"meter_id": "../../etc/x", "time_s": 1782000000, "power_w": 1}'
        queue = self.layout.queue_of("../../etc/x")
        with self.assertRaises(BadReading) as caught:
            decode(body, queue, 9000.0, self.layout)
        self.assertIn("not a valid meter id", str(caught.exception))

class PackedTest(unittest.TestCase):
    """Several readings of one queue in a message, one a line ([broker] readings_per_message)."""

    layout = Layout(partitions=4)

    def taken(self, meters: int, ticks: int) -> list[tuple[str, bytes, float]]:
        """Readings as the meter takes them: tick by tick, every meter's in turn."""
        encoders = [ReadingEncoder(f"Meter_{i}") for i in range(meters)]
        return [(self.layout.queue_of(f"Meter_{i}"), encoders[i](1782000000.0 + tick, 10.0 + i),
                 1782000000.0 + tick) for tick in range(ticks) for i in range(meters)]

    def test_one_per_message_leaves_every_reading_its_own_message(self) -> None:
        taken = self.taken(5, 2)
        self.assertEqual(pack(taken, 1), taken)

    def test_packed_messages_carry_every_reading_once_each_meters_in_order(self) -> None:
        taken = self.taken(40, 3)
        messages = pack(taken, 7)
        per_queue = Counter(queue for queue, _body, _time_s in taken)
        self.assertEqual(len(messages), sum(-(-n // 7) for n in per_queue.values()))
        seen: dict[str, list[float]] = {}
        for queue, body, time_s in messages:
            readings = decode_all(body, queue, 9000.0, self.layout)
            self.assertLessEqual(len(readings), 7)
            self.assertEqual(time_s, readings[0].time_s)
            for reading in readings:
                seen.setdefault(reading.meter_id, []).append(reading.time_s)
        self.assertEqual(seen, {f"Meter_{i}": [1782000000.0 + t for t in range(3)] for i in range(40)})

    def test_the_most_readings_of_the_longest_ids_fit_in_a_body(self) -> None:
        longest = "M" * 64
        body = ReadingEncoder(longest)(7258118400.0, 99999.999)
        queue = self.layout.queue_of(longest)
        [(_, packed, _)] = pack([(queue, body, 0.0)] * MAX_READINGS_PER_MESSAGE, MAX_READINGS_PER_MESSAGE)
        self.assertLessEqual(len(packed), MAX_BODY_BYTES)
        self.assertEqual(len(decode_all(packed, queue, 1e6, self.layout)), MAX_READINGS_PER_MESSAGE)

    def test_a_single_reading_laid_out_over_lines_is_still_one_reading(self) -> None:
        body = json.dumps({"meter_id": "Meter_0", "time_s": 1782000000, "power_w": 1}, indent=2).encode()
        [reading] = decode_all(body, "Meter_0", 9000.0)
        self.assertEqual(reading.meter_id, "Meter_0")

    @parameterized.expand([
        ("bad_json", b'{"meter_id": "Meter_0", "time_s": 17', "line 2 of 3: body is not JSON"),
        ("bad_field", b'{"meter_id": "Meter_0", "time_s": 1782000001, "power_w": -1}',
         "line 2 of 3: power_w -1 is outside"),
        ("other_queue", b'{"meter_id": "Meter_1", "time_s": 1782000001, "power_w": 1}',
         "line 2 of 3: meter_id 'Meter_1' differs"),
    ])
    def test_one_bad_line_refuses_the_message_naming_it(self, _name: str, line: bytes,
                                                         reason: str) -> None:
        good = ReadingEncoder("Meter_0")
        body = b"\n".join([good(1782000000.0, 1.0), line, good(1782000002.0, 1.0)])
        with self.assertRaises(BadReading) as caught:
            decode_all(body, "Meter_0", 9000.0)
        self.assertIn(reason, str(caught.exception))

    @parameterized.expand([("queue_per_meter", QUEUE_PER_METER), ("partitioned", Layout(partitions=4))])
    def test_the_encoders_packed_lines_read_as_each_alone(self, _name: str, layout: Layout) -> None:
        random = Random(9)
        meters = ["Meter_3"] if not layout.partitioned else [f"Meter_{i}" for i in range(40)]
        queue = layout.queue_of(meters[0])
        lines = [ReadingEncoder(meter_id)(random.uniform(0, 7e9), random.uniform(0, 9000))
                 for meter_id in meters if layout.queue_of(meter_id) == queue for _ in range(30)]
        readings = decode_all(b"\n".join(lines), queue, 9000.0, layout)
        self.assertEqual(readings, [decode(line, queue, 9000.0, layout) for line in lines])
        self.assertTrue(all(type(reading) is Reading for reading in readings))

    @parameterized.expand([
        ("power_over_limit", "Meter_0", 9500.0, "line 2 of 3: power_w 9500 is outside 0..9000 W"),
        ("other_queue", "Meter_1", 1.0, "line 2 of 3: meter_id 'Meter_1' differs"),
    ])
    def test_a_bad_line_among_the_encoders_is_named(self, _name: str, meter_id: str,
                                                    power_w: float, reason: str) -> None:
        good = ReadingEncoder("Meter_0")
        body = b"\n".join([good(1782000000.0, 1.0), ReadingEncoder(meter_id)(1782000001.0, power_w),
                           good(1782000002.0, 1.0)])
        with self.assertRaises(BadReading) as caught:
            decode_all(body, "Meter_0", 9000.0)
        self.assertIn(reason, str(caught.exception))

    def test_an_object_over_several_lines_in_a_packed_message_is_found_by_line(self) -> None:
        good = ReadingEncoder("Meter_0")
        spread = b'{"meter_id": "Meter_0",\n"time_s": 1782000001, "power_w": 1}'
        body = b"\n".join([good(1782000000.0, 1.0), spread])
        with self.assertRaises(BadReading) as caught:
            decode_all(body, "Meter_0", 9000.0)
        self.assertIn("line 2 of 3: body is not JSON", str(caught.exception))

    def test_a_packed_body_over_the_limit_is_refused(self) -> None:
        body = b"\n".join([ReadingEncoder("Meter_0")(1782000000.0 + i, 1.0) for i in range(1200)])
        with self.assertRaises(BadReading) as caught:
            decode_all(body, "Meter_0", 9000.0)
        self.assertIn("byte limit", str(caught.exception))


class EncodedBodyTest(unittest.TestCase):
    """The meter's own compact bodies are read without the JSON decoder: every one must give the
    reading, and the refusal, that the JSON path gives the same object spelled with spaces."""

    @staticmethod
    def spaced(body: bytes) -> bytes:
        """The same JSON object as the JSON path reads it: whitespace keeps it off the fast path."""
        return json.dumps(json.loads(body), separators=(", ", ": ")).encode()

    def test_the_encoders_bodies_read_as_their_json(self) -> None:
        random = Random(5)
        times = [0.0, 0.5, 1782000000.0, 1782000000.25, 7_258_118_400.0,
                 *(random.uniform(0, 7e9) for _ in range(200))]
        powers = [0.0, 0.0004, 9000.0, *(random.uniform(0, 9000) for _ in range(200))]
        for meter_id in ("Meter_0", "House-B.2", "x"):
            for time_s, power_w in zip(times, powers, strict=False):
                body = ReadingEncoder(meter_id)(time_s, power_w)
                with self.subTest(body=body):
                    self.assertEqual(decode(body, meter_id, 9000.0),
                                     decode(self.spaced(body), meter_id, 9000.0))

    @parameterized.expand([
        ("leading_zero_time", b'{"meter_id":"M","time_s":01.5,"power_w":1.000}', "not JSON"),
        ("leading_zero_power", b'{"meter_id":"M","time_s":1.5,"power_w":-00.5}', "not JSON"),
        ("power_negative", b'{"meter_id":"M","time_s":1.5,"power_w":-0.500}', "outside 0..9000"),
        ("time_after_2200", b'{"meter_id":"M","time_s":9000000000.0,"power_w":1.0}', "1970..2200"),
        ("other_meter", b'{"meter_id":"N","time_s":1.5,"power_w":1.0}', "differs from its queue"),
    ])
    def test_compact_bodies_are_refused_as_json_would(self, _name: str, body: bytes,
                                                      reason: str) -> None:
        with self.assertRaises(BadReading) as caught:
            decode(body, "M", 9000.0)
        self.assertIn(reason, str(caught.exception))

    def test_an_escaped_id_takes_the_json_path(self) -> None:
        body = ReadingEncoder("Z\u00e4hler")(1.5, 2.0)
        self.assertIn(b"\\u00e4", body)
        self.assertEqual(decode(body, "Z\u00e4hler", 9000.0).meter_id, "Z\u00e4hler")

    def test_a_compact_body_on_a_partition_is_checked_as_any(self) -> None:
        layout = Layout(partitions=4)
        body = ReadingEncoder("Meter_7")(1.5, 2.0)
        self.assertEqual(decode(body, layout.queue_of("Meter_7"), 9000.0, layout).meter_id, "Meter_7")
        other = next(q for q in layout.queues_for(["Meter_7"] + [f"M{i}" for i in range(9)])
                     if q != layout.queue_of("Meter_7"))
        with self.assertRaises(BadReading) as caught:
            decode(body, other, 9000.0, layout)
        self.assertIn("belongs on queue", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
