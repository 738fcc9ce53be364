"""Reference data for the simulator: topics with Chinese templates, departments,
channel mix, the daily curve and rough population weights.

Kept as plain Python data (no file I/O) so `generate_events` stays pure and fast.
All names, phones and ID numbers the simulator makes from this are fake.
"""

from __future__ import annotations

from fengqiao.regions import counties

# Hebei prefectures, resident population (万人, 7th census 2020, rounded).
PREFECTURE_POPULATION: dict[str, float] = {
    "130100": 1124, "130200": 772, "130300": 314, "130400": 941, "130500": 711,
    "130600": 1154, "130700": 412, "130800": 335, "130900": 730, "131000": 546, "131100": 421,
}


def county_weights() -> dict[str, float]:
    """Every county-level code weighted by a rough population share.

    Within a prefecture: urban districts weigh 1.3, counties and county-level
    cities 1.0, the province-administered cities 1.4, development zones and
    management areas 0.25 (few residents). Then scaled by the prefecture's
    population, so 保定/石家庄 counties get ~3x the traffic of 承德/秦皇岛 ones.
    """
    out: dict[str, float] = {}
    by_pref: dict[str, list[tuple[str, float]]] = {}
    for r in counties():
        if r.kind == "zone":
            w = 0.25
        elif "省直管" in r.note:
            w = 1.4
        elif r.name.endswith("区"):
            w = 1.3
        else:
            w = 1.0
        by_pref.setdefault(r.parent_code, []).append((r.code, w))
    for pref, items in by_pref.items():
        total = sum(w for _, w in items)
        pop = PREFECTURE_POPULATION.get(pref, 400)
        for code, w in items:
            out[code] = pop * w / total
    return out


# Share of new petitions by channel: the 12345 / 12368 hotline leads.
CHANNEL_WEIGHTS: dict[str, float] = {
    "hotline": 44, "wechat": 15, "app": 10, "web": 9, "qrcode": 8, "window": 10, "open311": 4,
}

# Relative intake by local hour of day (0..23): quiet nights, a morning peak,
# a smaller afternoon one, an evening tail. Normalised to mean 1 by the simulator.
HOURLY_CURVE: tuple[float, ...] = (
    0.12, 0.08, 0.06, 0.05, 0.06, 0.12, 0.35, 0.9, 1.7, 2.3, 2.4, 2.0,
    1.3, 1.4, 1.9, 2.0, 1.8, 1.5, 1.1, 0.9, 0.75, 0.55, 0.35, 0.2,
)

URGENCY_WEIGHTS = {"normal": 74, "pressing": 20, "urgent": 6}
DIFFICULTY_WEIGHTS = {"simple": 40, "moderate": 40, "complex": 20}

# Resolve span in working days by category (DESIGN.md section 4), for realistic reply delays.
RESOLVE_DAYS = {"consult": 3, "help": 5, "suggestion": 7, "complaint": 15, "report": 15, "dispute": 15}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华文华玉兰红梅志强海燕国庆淑珍凤英金凤桂芝玉珍春梅建国建军丽娟"
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "156", "157", "158", "159", "176", "177", "180", "181", "182", "186", "187", "188", "189", "199")

TOWNS = ("城关镇", "东关街道", "西关街道", "南街街道", "北街街道", "河西镇", "柳林镇", "王庄乡", "李家庄乡",
         "新城镇", "大营镇", "小寨乡", "南关镇", "北辛庄乡", "东王村镇", "杨家营乡", "西城街道", "建设路街道")
VILLAGES = ("东村", "西村", "南庄村", "北庄村", "前屯村", "后屯村", "张家营村", "李庄村", "马头村", "杨柳村", "高庄村", "刘家洼村")
COMMUNITIES = ("阳光花园", "幸福家园", "锦绣华庭", "御景湾", "和平里", "康乐小区", "翠湖苑", "富力城", "金地名苑", "滨河湾")
COMPANIES = ("某建筑劳务公司", "某服装加工厂", "某物流公司", "某食品有限公司", "某机械制造厂", "某装修公司",
             "某商贸公司", "某电子科技公司", "某家政服务公司", "某纺织厂")
ROADS = ("建设大街", "中华大街", "胜利路", "人民路", "友谊路", "新华路", "和平路", "长江道", "迎宾路", "光明街")

# topic → (categories with weights, base weight, titles, contents, department, surge-prone?)
# Templates use {town} {village} {community} {company} {road} {n} {months} {amount} {school} {hospital}.
TOPICS: dict[str, dict] = {
    "劳资纠纷": {
        "weight": 13, "categories": {"dispute": 5, "complaint": 3, "help": 2}, "dept": "人力资源和社会保障局",
        "surge": True,
        "titles": ["{company}拖欠工资{months}个月", "讨要{company}欠薪", "农民工工资被拖欠，求帮助",
                   "{company}未签劳动合同且欠薪", "离职后{company}不结清工资"],
        "contents": ["本人在{company}务工，{company}已拖欠{n}名工人工资共计约{amount}元，多次讨要无果，请求有关部门协调解决。",
                     "我们一行{n}人在{town}某工地干活，包工头以工程款未到位为由拖欠工资{months}个月，临近年底生活困难。",
                     "本人于今年在{company}工作，离职时公司拒绝支付最后{months}个月工资约{amount}元，希望劳动监察介入。"],
    },
    "物业管理": {
        "weight": 10, "categories": {"complaint": 6, "dispute": 2, "suggestion": 1}, "dept": "住房和城乡建设局",
        "surge": True,
        "titles": ["{community}物业不作为", "{community}电梯频繁故障", "{community}小区停车收费不合理",
                   "{community}物业费上涨问题", "{community}楼道堆放杂物无人清理"],
        "contents": ["{community}小区物业服务质量差，垃圾清运不及时，电梯多次困人，业主多次反映未见整改。",
                     "{community}物业公司未经业主大会同意擅自上调物业费，且公共收益不公开，请求主管部门核查。",
                     "{community}小区{n}号楼电梯本月已故障多次，老人出行困难，物业称维修资金不足。"],
    },
    "邻里纠纷": {
        "weight": 9, "categories": {"dispute": 8, "help": 1}, "dept": "司法局",
        "titles": ["邻居占用公共通道", "邻里宅基地边界纠纷", "楼上漏水拒不维修", "邻居饲养犬只扰民", "邻居私搭乱建影响采光"],
        "contents": ["{town}{village}村民与邻居因宅基地边界问题发生争执，双方多次口角，请求村调委会调解。",
                     "楼上住户卫生间漏水导致我家天花板受损，协商多次对方拒绝维修赔偿，请求调解。",
                     "邻居长期在楼道及公共通道堆放杂物、饲养犬只，夜间吠叫影响休息，沟通无效。"],
    },
    "征地拆迁": {
        "weight": 5, "categories": {"dispute": 4, "complaint": 3, "report": 1}, "dept": "自然资源和规划局",
        "surge": True,
        "titles": ["{village}征地补偿款未到位", "拆迁安置房迟迟未交付", "对拆迁补偿标准有异议", "{town}土地被违规占用"],
        "contents": ["{town}{village}集体土地被征用已{months}个月，补偿款至今未发放到户，涉及{n}户村民。",
                     "我家房屋被列入拆迁范围，安置房原定去年交付，至今仍未交付，过渡费也已停发。",
                     "{village}部分耕地在未办理任何手续的情况下被施工占用，村民不知情，请求核查。"],
    },
    "婚姻家庭": {
        "weight": 6, "categories": {"dispute": 5, "help": 3, "consult": 2}, "dept": "妇女联合会",
        "titles": ["离婚后抚养费拒不支付", "家庭暴力求助", "老人赡养纠纷", "婚姻财产分割咨询"],
        "contents": ["离婚后对方拒不按判决支付孩子抚养费，已拖欠{months}个月，请求帮助。",
                     "本人长期遭受配偶言语及肢体暴力，不知如何申请人身安全保护令，请求帮助。",
                     "家中老人年逾八十，几个子女互相推诿不尽赡养义务，请求调解。"],
    },
    "环境污染": {
        "weight": 7, "categories": {"report": 5, "complaint": 4}, "dept": "生态环境分局",
        "surge": True,
        "titles": ["{company}夜间排放刺鼻气体", "{road}附近工地扬尘严重", "河道被倾倒垃圾", "饭店油烟扰民", "夜间施工噪音扰民"],
        "contents": ["{town}附近{company}夜间偷排废气，气味刺鼻，周边居民门窗紧闭仍能闻到，影响健康。",
                     "{road}沿线工地未覆盖防尘网，车辆带泥上路，扬尘严重。",
                     "{community}周边工地夜间十一点后仍在施工，噪音很大，老人孩子无法休息。"],
    },
    "交通出行": {
        "weight": 6, "categories": {"suggestion": 4, "complaint": 4, "consult": 1}, "dept": "交通运输局",
        "titles": ["{road}红绿灯设置不合理", "公交线路调整建议", "{village}道路破损严重", "出租车拒载绕路"],
        "contents": ["{road}与{road2}交叉口早晚高峰拥堵严重，建议优化信号灯配时。",
                     "{town}至县城的公交班次太少，学生和老人出行不便，建议增加班次。",
                     "{village}通村道路坑洼不平，雨天积水，存在安全隐患。"],
    },
    "教育": {
        "weight": 6, "categories": {"consult": 4, "complaint": 3, "suggestion": 2}, "dept": "教育局",
        "titles": ["{school}违规收费", "随迁子女入学咨询", "校外培训机构退费难", "学区划分问题"],
        "contents": ["{school}以资料费名义向学生收取费用，每生{amount}元，家长质疑是否合规。",
                     "我们是外地来冀务工人员，孩子今年上小学，请问随迁子女入学需要哪些材料？",
                     "某校外培训机构突然停业，预付学费约{amount}元无法退回，涉及家长{n}人。"],
    },
    "医疗卫生": {
        "weight": 5, "categories": {"complaint": 4, "consult": 3, "help": 1}, "dept": "卫生健康局",
        "titles": ["{hospital}服务态度差", "异地就医报销咨询", "诊所违规行医举报", "医疗费用争议"],
        "contents": ["在{hospital}就诊时排队时间长，部分医务人员服务态度生硬，希望改进。",
                     "请问在外省住院的费用回河北后如何报销，需要哪些手续？",
                     "{town}某无证诊所长期违规输液，存在医疗安全隐患。"],
    },
    "社会保障": {
        "weight": 6, "categories": {"consult": 5, "help": 3, "complaint": 1}, "dept": "医疗保障局",
        "titles": ["养老保险转移接续咨询", "低保申请进度查询", "医保缴费异常", "高龄补贴未发放"],
        "contents": ["本人此前在外省缴纳养老保险{n}年，现回户籍地工作，请问如何办理转移接续？",
                     "家中困难已申请低保{months}个月，至今未有结果，请求帮助查询进度。",
                     "家中老人已满八十周岁，高龄补贴从上月起停发，不知原因。"],
    },
    "供水供暖": {
        "weight": 6, "categories": {"complaint": 5, "help": 3}, "dept": "城市管理综合执法局",
        "surge": True,
        "titles": ["{community}连续停水", "{community}暖气不热", "{village}自来水水质发黄", "供热管道漏水"],
        "contents": ["{community}小区已连续停水{n}天，未提前通知，居民生活受到严重影响。",
                     "{community}小区供暖温度仅十几度，家中有老人孩子，多次报修未解决。",
                     "{village}自来水近日发黄有异味，村民不敢饮用。"],
    },
    "消费维权": {
        "weight": 6, "categories": {"complaint": 6, "report": 2}, "dept": "市场监督管理局",
        "titles": ["预付卡商家跑路", "购买商品质量问题退货难", "{company}虚假宣传", "超市销售过期食品"],
        "contents": ["在某健身房办理预付卡{amount}元，商家突然关门，无法联系，涉及会员{n}人。",
                     "购买的家电使用不到一个月出现故障，商家拒绝退换。",
                     "{road}某超市销售过期食品，已保留购物小票和照片。"],
    },
    "农村土地": {
        "weight": 5, "categories": {"dispute": 5, "consult": 2}, "dept": "农业农村局",
        "titles": ["土地承包经营权纠纷", "{village}土地流转租金未付", "宅基地审批咨询"],
        "contents": ["{village}土地流转给合作社后，租金已拖欠{months}个月，涉及{n}户。",
                     "与同村村民因承包地界限发生纠纷，请求乡镇调解。",
                     "本人想在自家宅基地上翻建房屋，请问需要办理哪些审批手续？"],
    },
    "治安秩序": {
        "weight": 5, "categories": {"report": 5, "help": 3}, "dept": "公安局",
        "titles": ["{road}夜间有人聚集滋事", "电信诈骗求助", "{community}电动车被盗", "疑似非法集资举报"],
        "contents": ["{road}某烧烤店附近夜间经常有人酗酒滋事，影响周边居民安全。",
                     "本人接到冒充客服电话被骗{amount}元，已报警，请求帮助追回。",
                     "{town}有人以高息为诱饵吸收村民资金，疑似非法集资。"],
    },
    "市容环境": {
        "weight": 4, "categories": {"complaint": 4, "suggestion": 3}, "dept": "城市管理综合执法局",
        "titles": ["{road}占道经营", "{community}垃圾清运不及时", "路灯损坏不亮"],
        "contents": ["{road}沿街商户长期占道经营，行人只能走机动车道。",
                     "{community}周边垃圾桶满溢，几天无人清运，气味难闻。",
                     "{road}一段路灯已损坏多日，夜间行走不安全。"],
    },
}

SCHOOLS = ("第一小学", "实验小学", "第二中学", "实验中学", "职业中学")
HOSPITALS = ("县人民医院", "县中医院", "乡镇卫生院", "市第一医院")

RETURN_REASONS = ("不属于本单位职责范围", "诉求涉及多个部门，建议重新指派", "地址不在本辖区", "需上级部门协调")
EXTEND_REASONS = ("涉及多方当事人，需进一步调查核实", "需等待司法鉴定结果", "涉及资金拨付审批流程", "当事人暂时无法联系")
REPLY_RESULTS = ("经现场核实，已协调相关方解决，诉求人表示认可。", "已约谈责任单位并责令限期整改，整改完成后已回访。",
                 "已组织双方调解并达成协议。", "已依法立案处理，并将处理结果告知诉求人。",
                 "经核实情况属实，已督促落实到位。", "已向诉求人解释相关政策并提供办理渠道。")
PARTIAL_RESULTS = ("已受理并开展调查，阶段性情况已告知诉求人。", "已初步协调，仍需进一步处理。")
ONLINE_ANSWERS = ("您好，根据相关规定，您可携带身份证及相关材料到当地政务服务中心办理，也可通过冀时办App在线申请。",
                  "您好，您咨询的问题已答复：请按政策规定向户籍所在地主管部门申请，办理时限为15个工作日。",
                  "您好，相关政策依据及办理流程已发送至您预留的联系方式，如有疑问可再次咨询。")
EVAL_COMMENTS = {"satisfied": ("处理及时，非常满意", "感谢工作人员", "问题解决了"),
                 "basically_satisfied": ("基本解决，希望后续跟进", "处理时间有点长"),
                 "dissatisfied": ("问题没有实际解决", "答复敷衍", "工作人员推诿")}
ESCALATE_REASONS = ("群众两次不满意，提级办理", "涉及跨区域协调，提级办理", "案情复杂，需上级统筹")
