import hashlib
import subprocess
import sys

from mmpcbench.seeds import derive_seed


def test_derived_seed_is_the_documented_sha256_prefix():
    expected = int.from_bytes(hashlib.sha256("1\x1fB0X".encode()).digest()[:4], "big")
    assert derive_seed(1, "B0X") == expected


def test_derived_seed_depends_on_the_seed_and_every_part():
    seeds = {derive_seed(1, "B0X"), derive_seed(2, "B0X"), derive_seed(1, "B0Y"), derive_seed(1, "B0X", 0),
             derive_seed(1, "B0", "X")}
    assert len(seeds) == 5
    assert derive_seed(1, "B0X") == derive_seed(1, "B0X")
    assert all(0 <= s < 2**32 for s in seeds)


def test_derived_seed_is_the_same_in_another_process():
    code = "from mmpcbench.seeds import derive_seed; print(derive_seed(7, 'i2t', 'All_Beauty', 0.5))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123"})
    assert int(other.stdout) == derive_seed(7, "i2t", "All_Beauty", 0.5)
