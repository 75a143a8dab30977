"""Compare the `nb201_table` example's output with the shared NAS-Bench-201 table.

usage: python3 scripts/check_nb201_table.py OUT.csv [path/to/nb201_groundtruth.csv]
Checks every row: arch string, isomorphism partition (canonical_id = smallest index of the
table's unique_str class), params and FLOPs on the three datasets to 1e-6. Exits non-zero, loudly,
on any disagreement or when the shared table is missing.
"""
import csv
import os
import sys

ours_path = sys.argv[1]
candidates = sys.argv[2:3] + [
    os.environ.get("NB201_TABLE", ""),
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nb201", "nb201_groundtruth.csv"),
    "/work/shared/data/nb201/nb201_groundtruth.csv",
]
table = next((p for p in candidates if p and os.path.isfile(p)), None)
if table is None:
    sys.exit("*** NAS-Bench-201 ground-truth table NOT FOUND (set NB201_TABLE) ***")

truth = list(csv.DictReader(open(table)))
ours = list(csv.DictReader(open(ours_path)))
assert len(ours) == len(truth) == 15625, (len(ours), len(truth))
first = {}
for row in truth:
    first.setdefault(row["unique_str"], int(row["index"]))
bad = 0
for t, o in zip(truth, ours):
    ok = t["index"] == o["index"] and t["arch_str"] == o["arch_str"]
    ok &= int(o["canonical_id"]) == first[t["unique_str"]]
    for col in ["params_c10", "flops_c10", "params_c100", "flops_c100", "params_in16", "flops_in16"]:
        ok &= abs(float(t[col]) - float(o[col])) < 1e-6
    if not ok:
        bad += 1
        if bad <= 5:
            print("MISMATCH", t["index"], dict(o))
if bad:
    sys.exit(f"{bad} rows disagree")
print(f"all 15625 rows agree with {table}: {len(first)} isomorphism classes")
