"""The LED matrices: terminal, png, recording, the Sense HAT driver, and the emulator (the
real `sense_emu` package, its shared files and joystick socket moved into tmp_path)."""

from __future__ import annotations

import io
import os
import socket
import struct
import threading
import time
import zlib

import pytest

from device.matrix import MATRICES, MatrixUnavailableError, open_matrix
from device.png import PngMatrix, draw_leds, encode_png
from device.recording import RecordingMatrix
from device.sensehat import HatMatrix, open_sense_hat
from device.terminal import LINES, TerminalMatrix
from swan.core.render import GLYPHS, render_frame

FULL = render_frame(100.0, 100.0, failed=False, now=0.0, alarm_seconds=10.0)
FAILURE = GLYPHS[0].frame()


# ---------------------------------------------------------------- terminal


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_terminal_draws_colour_blocks_and_the_caption():
    out = io.StringIO()
    matrix = TerminalMatrix(out)
    matrix.show(FAILURE, "SYSTEM FAILURE")
    lines = out.getvalue().splitlines()
    assert len(lines) == LINES
    assert lines[0].startswith("\x1b[48;2;255;0;0m  \x1b[48;2;0;0;0m  ")
    assert lines[-1].startswith("SYSTEM FAILURE")
    assert matrix.shows_caption
    assert matrix.mode == "terminal"


def test_on_a_tty_each_redraw_goes_back_over_the_last():
    out = Tty()
    matrix = TerminalMatrix(out)
    matrix.show(FULL, "one")
    matrix.show(FULL, "two")
    matrix.close()
    text = out.getvalue()
    assert text.startswith("\r\x1b[?25l")
    assert text.count(f"\r\x1b[{LINES}A") == 1
    assert text.endswith("\x1b[?25h")


def test_low_light_dims_the_blocks_and_clear_turns_them_off():
    out = io.StringIO()
    matrix = TerminalMatrix(out)
    matrix.set_low_light(True)
    matrix.show(FULL, "")
    assert "\x1b[48;2;0;89;0m" in out.getvalue()
    matrix.clear()
    assert out.getvalue().splitlines()[-2].startswith("\x1b[48;2;0;0;0m")


def test_enter_or_space_pushes_and_other_keys_do_not():
    read_end, write_end = os.pipe()
    keys = os.fdopen(read_end, "r")
    pressed = threading.Semaphore(0)
    matrix = TerminalMatrix(io.StringIO(), keys)
    matrix.listen(pressed.release)
    try:
        os.write(write_end, b"x")
        os.write(write_end, b" ")
        assert pressed.acquire(timeout=5)
        os.write(write_end, b"\n")
        assert pressed.acquire(timeout=5)
        assert not pressed.acquire(timeout=0.05)
    finally:
        matrix.close()
        os.close(write_end)
        keys.close()


def test_without_a_keyboard_nobody_listens():
    matrix = TerminalMatrix(io.StringIO(), io.StringIO())  # no file descriptor
    matrix.listen(lambda: None)
    matrix.close()


def test_a_closed_terminal_is_said_once_and_then_left_alone(caplog):
    out = io.StringIO()
    out.close()
    matrix = TerminalMatrix(out)
    matrix.show(FULL, "")
    matrix.show(FULL, "")
    assert caplog.text.count("cannot write") == 1


# ---------------------------------------------------------------- png


def decode(data):
    """Width, height and the first scanline's first pixel of one of our PNGs."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    raw = zlib.decompress(data[start : start + length])
    return width, height, raw


def test_a_picture_is_a_valid_png_of_the_leds(tmp_path):
    path = PngMatrix(tmp_path).save(FAILURE, tmp_path / "failure.png")
    width, height, raw = decode(path.read_bytes())
    assert (width, height) == (296, 296)
    assert len(raw) == height * (1 + 3 * width)
    middle_of_first_led = (8 + 14) * (1 + 3 * width) + 1 + 3 * (8 + 14)
    assert raw[middle_of_first_led : middle_of_first_led + 3] == bytes((255, 0, 0))


def test_the_live_png_matrix_numbers_its_frames_and_keeps_the_latest(tmp_path):
    matrix = PngMatrix(tmp_path, keep=2)
    for _ in range(3):
        matrix.show(FULL, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame-000002.png", "frame-000003.png"]
    matrix.set_low_light(True)
    matrix.clear()
    matrix.listen(lambda: None)
    matrix.close()
    assert matrix.written == 4


def test_encoding_rows_of_any_size():
    width, height, rows = draw_leds(FULL)
    assert len(rows) == height
    assert decode(encode_png(width, height, rows))[:2] == (width, height)


# ---------------------------------------------------------------- recording


def test_the_recording_matrix_keeps_what_it_was_shown_within_bounds():
    matrix = RecordingMatrix(keep=3)
    for n in range(5):
        matrix.show(FULL, f"{n}")
    assert [s.caption for s in matrix.shown] == ["2", "3", "4"]
    assert matrix.shows == 5
    assert matrix.lit
    matrix.clear()
    assert not matrix.lit
    matrix.set_low_light(True)
    assert matrix.low_light
    matrix.close()
    assert matrix.closed


def test_its_joystick_needs_a_listener():
    matrix = RecordingMatrix()
    with pytest.raises(RuntimeError, match="nobody listens"):
        matrix.press()


def test_waiting_for_a_frame_sees_the_latest_and_times_out():
    matrix = RecordingMatrix()
    matrix.show(FULL, "")
    assert matrix.wait_for_frame(lambda f: f == FULL, timeout=0) == FULL
    with pytest.raises(TimeoutError):
        matrix.wait_for_frame(lambda f: f == FAILURE, timeout=0.01)


# ---------------------------------------------------------------- the Sense HAT driver


class FakeStick:
    def __init__(self):
        self.direction_any = None
        self.closed = False

    def close(self):
        self.closed = True


class FakeHat:
    """What sense_hat.SenseHat does with the calls HatMatrix makes."""

    def __init__(self):
        self.pixels = None
        self.low_light = False
        self.stick = FakeStick()

    def set_pixels(self, pixel_list):
        assert len(pixel_list) == 64
        self.pixels = pixel_list

    def clear(self):
        self.pixels = [(0, 0, 0)] * 64


class Event:
    def __init__(self, action):
        self.action = action


def test_the_hat_gets_the_frame_and_the_light():
    hat = FakeHat()
    matrix = HatMatrix(hat)
    matrix.show(FAILURE, "no room for this")
    assert hat.pixels == list(FAILURE)
    matrix.set_low_light(True)
    assert hat.low_light
    matrix.clear()
    assert hat.pixels == [(0, 0, 0)] * 64
    assert not matrix.shows_caption
    assert matrix.mode == "sensehat"


def test_any_direction_pressed_pushes_held_and_released_do_not(caplog):
    hat = FakeHat()
    presses = []
    matrix = HatMatrix(hat)
    matrix.listen(lambda: presses.append(1))
    for action in ("pressed", "held", "released"):
        hat.stick.direction_any(Event(action))
    assert presses == [1]
    matrix.listen(lambda: 1 / 0)
    hat.stick.direction_any(Event("pressed"))  # logged; the stick's thread lives on
    assert "joystick press handler failed" in caplog.text
    matrix.close()
    hat.stick.direction_any(Event("pressed"))  # after close: nobody to tell
    assert presses == [1]


def test_without_sense_hat_installed_the_error_says_how_to_get_it():
    with pytest.raises(MatrixUnavailableError, match="sudo apt install sense-hat"):
        open_sense_hat()


# ---------------------------------------------------------------- the emulator


@pytest.fixture
def emulator_files(tmp_path, monkeypatch):
    """sense_emu's shared files and joystick socket, in tmp_path instead of /dev/shm."""
    from sense_emu import humidity, imu, lock, pressure, screen, stick  # noqa: PLC0415

    monkeypatch.setenv("HOME", str(tmp_path))
    for module, function, name in (
        (lock, "lock_filename", "lock"),
        (screen, "screen_filename", "screen"),
        (imu, "imu_filename", "imu"),
        (pressure, "pressure_filename", "pressure"),
        (humidity, "humidity_filename", "humidity"),
    ):
        monkeypatch.setattr(module, function, lambda name=name: str(tmp_path / name))
    address = str(tmp_path / "stick")
    monkeypatch.setattr(
        stick, "stick_address", lambda: (socket.AF_UNIX, socket.SOCK_DGRAM, address)
    )
    return tmp_path


def test_without_its_window_the_emulator_says_how_to_start_it(emulator_files):  # noqa: ARG001
    from device.emu import open_emulator  # noqa: PLC0415

    with pytest.raises(MatrixUnavailableError, match="sense_emu_gui &"):
        open_emulator(wait=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # sense_emu on Pillow 13
def test_the_emulator_shows_frames_and_its_joystick_pushes(emulator_files):
    from device.emu import open_emulator  # noqa: PLC0415

    (emulator_files / "lock").write_text(f"{os.getpid()}\n")  # "the window is running"
    matrix = open_emulator(wait=0)
    pressed = threading.Event()
    try:
        assert matrix.mode == "emu"
        matrix.show(FAILURE, "")
        matrix.set_low_light(True)
        screen = (emulator_files / "screen").read_bytes()
        first = struct.unpack("H", screen[:2])[0]
        assert first == (255 >> 3) << 11  # red in RGB565
        assert screen[128:160] != bytes(32)  # the low-light gamma table
        matrix.listen(pressed.set)
        client = emulator_files / f"rpi-sense-emu-client-{os.getpid()}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as joystick:
            now = time.time()
            event = struct.pack("llHHI", int(now), 0, 0x01, 28, 1)  # KEY_ENTER pressed
            joystick.sendto(event, str(client))
        assert pressed.wait(5)
    finally:
        matrix.close()


def test_every_matrix_has_a_name_and_png_needs_a_directory(tmp_path):
    assert set(MATRICES) == {"sensehat", "emu", "terminal", "png", "recording"}
    assert open_matrix("recording").mode == "recording"
    assert open_matrix("png", frames=tmp_path).mode == "png"
    assert open_matrix("terminal", keys=False).mode == "terminal"
    with pytest.raises(MatrixUnavailableError, match="--frames"):
        open_matrix("png")
    with pytest.raises(MatrixUnavailableError, match="choose one of"):
        open_matrix("lcd")  # type: ignore[arg-type]
