import pytest

from fengqiao.domain.triage import DispatchRulesError, decide, load_dispatch_rules, route

pytestmark = pytest.mark.unit


def test_complex_goes_to_the_county_dispute_resolution_centre():
    assert route("dispute", "劳资纠纷", "complex", "130123") == ("正定县社会矛盾纠纷调处中心", "county")
    assert route("complaint", "环境污染", "complex", "130123")[1] == "county"


@pytest.mark.parametrize("difficulty", ["simple", "moderate", None])
def test_simple_and_moderate_go_to_the_township(difficulty):
    dept, level = route("dispute", "劳资纠纷", difficulty, "130123")
    assert level == "township" and dept == "正定县乡镇（街道）劳动保障所"


def test_most_specific_rule_wins_and_default_catches_the_rest():
    assert route("report", "未知话题", "simple", "130123")[0] == "正定县乡镇（街道）综合行政执法队"
    assert route("help", "未知话题", "simple", "130123") == ("正定县乡镇（街道）综治中心", "township")
    assert route("report", "邻里纠纷", "simple", "130123")[0].endswith("人民调解委员会")


def test_consult_may_be_answered_online():
    assert decide("consult", "社会保障", "simple", "130123").online
    assert not decide("dispute", "社会保障", "simple", "130123").online


def test_prefecture_code_uses_the_prefecture_name():
    assert route("dispute", "邻里纠纷", "complex", "130100")[0] == "石家庄市社会矛盾纠纷调处中心"


def test_rules_file_is_validated(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text('[complex]\ndepartment = "x"\nlevel = "county"\n[default]\ndepartment = "y"\nlevel = "galaxy"\n', "utf-8")
    with pytest.raises(DispatchRulesError, match="default.level"):
        load_dispatch_rules(f)
    f.write_text('[complex]\ndepartment = "{county}中心"\nlevel = "county"\n[default]\ndepartment = "y"\n'
                 'level = "township"\n[[rules]]\ntopic = "供水"\ndepartment = "{county}水务站"\nlevel = "township"\n', "utf-8")
    assert load_dispatch_rules(f).route("help", "供水", None, "130123") == ("正定县水务站", "township")
