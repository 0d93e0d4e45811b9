"""numba's target: this CPU's 512-bit vectors where it has AVX-512, the user's own
target setting left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import llvmlite.binding as llvm
import pytest

from drivers import kernel_target

_SHOW_TARGET = (
    "import json, os, {module};"
    "from numba.core.registry import cpu_target;"
    "print(json.dumps([os.environ.get('NUMBA_CPU_NAME'), os.environ.get('NUMBA_CPU_FEATURES'),"
    " cpu_target.target_context.codegen()._tm_features]))"
)


@pytest.mark.parametrize("module", ["calibration.lens_kernels", "drivers.synthetic.board_shading"])
def test_kernels_get_wide_vectors_exactly_where_the_cpu_has_avx512(module):
    """In a process started without a numba target, whichever layer's kernels come
    first: set on import, and the compiler numba creates for the kernels has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CPU_")}
    out = subprocess.run(
        [sys.executable, "-c", _SHOW_TARGET.format(module=module)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    name, features, compiler = json.loads(out.stdout)
    if llvm.get_host_cpu_features().get("avx512f", False):
        assert name == llvm.get_host_cpu_name()
        assert "+avx512f" in features.split(",")
        assert features.endswith(f",-{kernel_target.PREFER_256}")
        assert compiler == features
    else:
        assert name is None and features is None


def test_a_target_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("NUMBA_CPU_NAME", "generic")
    monkeypatch.delenv("NUMBA_CPU_FEATURES", raising=False)
    assert kernel_target.prefer_wide_vectors() is False
    assert os.environ["NUMBA_CPU_NAME"] == "generic"
    assert "NUMBA_CPU_FEATURES" not in os.environ
