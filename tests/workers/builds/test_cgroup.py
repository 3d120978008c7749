"""The per-build pids cgroup, on a directory standing in for the cgroup filesystem."""

from workers.builds.cgroup import limit_pids, release


def test_a_build_cgroup_is_made_with_its_pids_limit_and_released(tmp_path):
    (tmp_path / "cgroup.procs").write_text("")
    assert limit_pids("chainscan-builds", "build-1", 64, (tmp_path,)) == "/chainscan-builds/build-1"
    assert (tmp_path / "chainscan-builds/build-1/pids.max").read_text() == "64"
    (tmp_path / "chainscan-builds/build-1/pids.max").unlink()
    release("/chainscan-builds/build-1", (tmp_path,))
    assert not (tmp_path / "chainscan-builds/build-1").exists()


def test_without_a_cgroup_filesystem_there_is_no_pids_limit_to_hand_the_engine(tmp_path):
    assert limit_pids("chainscan-builds", "build-1", 64, (tmp_path / "absent",)) is None
