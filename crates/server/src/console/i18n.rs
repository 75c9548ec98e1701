//! The console's words in English and Japanese. Every visible string of
//! every page is a [`T`]: a key is a variant, so a word missing in one
//! language, or a page asking for a word that does not exist, does not
//! compile.

use access::Scope;
use axum::http::HeaderMap;
use model::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Ja,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The user's choice, else the browser's first language we speak.
    pub(crate) fn choose(user: &str, headers: &HeaderMap) -> Lang {
        match user {
            "ja" => Lang::Ja,
            "en" => Lang::En,
            _ => Lang::from_accept(headers),
        }
    }

    fn from_accept(headers: &HeaderMap) -> Lang {
        let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut best = (Lang::En, -1.0f32);
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ja") => Lang::Ja,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > best.1 {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The text of `key` in this language.
    pub(crate) fn t(self, key: T) -> &'static str {
        match self {
            Lang::En => key.en(),
            Lang::Ja => key.ja(),
        }
    }
}

/// Declares the words: each a variant with its English and Japanese.
macro_rules! words {
    ($($key:ident: $en:literal, $ja:literal;)*) => {
        /// A word of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum T {
            $($key),*
        }

        impl T {
            #[cfg(test)]
            pub(crate) const ALL: &'static [T] = &[$(T::$key),*];

            fn en(self) -> &'static str {
                match self {
                    $(T::$key => $en),*
                }
            }

            fn ja(self) -> &'static str {
                match self {
                    $(T::$key => $ja),*
                }
            }
        }
    };
}

words! {
    Accounts: "Accounts", "アカウント";
    Ack: "Acknowledge", "確認";
    Action: "Action", "操作";
    ActionsTaken: "Actions taken", "実施済みの対応";
    Add: "Add", "追加";
    AddColumn: "Show as a column", "列に表示";
    AddNote: "Add note", "メモを追加";
    AddTask: "Add task", "タスクを追加";
    AddUser: "Add user", "ユーザーを追加";
    Addresses: "Addresses", "アドレス";
    Alert: "Alert", "アラート";
    Alerts: "Alerts", "アラート";
    AlertsOverTime: "Alerts over the last 24 hours by severity", "過去24時間のアラート(重大度別)";
    All: "All", "すべて";
    AllInSearch: "All of them in search", "検索ですべて表示";
    Apply: "Apply", "適用";
    Assets: "Assets", "資産";
    AssetsCsv: "The inventory as CSV (kind: host, user or ip; match: a name, a * pattern or a network; criticality: low, medium, high or critical). Saving replaces it.", "資産一覧(CSV。kind: host・user・ip、match: 名前・*パターン・ネットワーク、criticality: low・medium・high・critical)。保存すると置き換えます。";
    Assign: "Assign", "担当者を設定";
    AssignToMe: "Assign to me", "自分に割り当て";
    Assignee: "Assignee", "担当者";
    AttackStory: "What happened, step by step", "攻撃の流れ";
    Author: "Author", "作成者";
    Breached: "SLA breached", "SLA超過";
    BulkHint: "Apply to the incidents of the selected alerts", "選択したアラートのインシデントに適用";
    BusinessUnit: "Business unit", "部門";
    Close: "Close", "クローズ";
    Count: "Count", "件数";
    Created: "Created", "作成日時";
    Criticality: "Criticality", "重要度";
    CrossSite: "Cross-site request refused.", "クロスサイトのリクエストは拒否されました。";
    CsrfFailed: "The form is stale or forged (CSRF check failed); reload the page.", "フォームが古いか偽造されています(CSRFチェック失敗)。ページを再読み込みしてください。";
    DeadLetters: "Dead letters", "デッドレター";
    Pipeline: "Pipeline: how far each reader is behind", "パイプライン: 各処理の遅れ";
    Reader: "Reader", "処理";
    Behind: "Behind", "未処理";
    Bound: "Senders slowed from", "送信抑制の閾値";
    LogOnDisk: "write-ahead log on disk", "ディスク上の先行書き込みログ";
    DefaultColumns: "Back to the default columns", "既定の列に戻す";
    Delete: "Delete", "削除";
    Description: "Description", "説明";
    Detections: "Detections", "検知数";
    DispBenignTruePositive: "Benign true positive", "無害な真陽性";
    DispDuplicate: "Duplicate", "重複";
    DispFalsePositive: "False positive", "誤検知";
    DispTruePositive: "True positive", "真陽性";
    Disposition: "Disposition", "判定";
    DoneAssign: "The assignee is changed.", "担当者を変更しました。";
    DoneEscalate: "Escalated: the hand-off package is ready.", "エスカレーションしました。引き継ぎパッケージを用意しました。";
    DoneNote: "The note is added.", "メモを追加しました。";
    DoneStatus: "The status is changed.", "ステータスを変更しました。";
    DoneTask: "The task is added.", "タスクを追加しました。";
    Enabled: "On for this tenant", "このテナントで有効";
    EntDomain: "domain", "ドメイン";
    EntFile: "file", "ファイル";
    EntHash: "hash", "ハッシュ";
    EntHost: "host", "ホスト";
    EntIp: "address", "アドレス";
    EntProcess: "process", "プロセス";
    EntUser: "user", "ユーザー";
    Entities: "Entities", "エンティティ";
    Eps: "Events per second", "毎秒イベント数";
    Error: "Error", "エラー";
    Escalate: "Escalate to CSIRT", "CSIRTへエスカレーション";
    EscalatedTo: "Escalated to", "エスカレーション先";
    Event: "Event", "イベント";
    Events: "Events", "イベント";
    Evidence: "Evidence", "証跡";
    FalsePositiveRate: "False-positive rate", "誤検知率";
    FalsePositives: "Known false positives", "既知の誤検知";
    Field: "Field", "フィールド";
    Fields: "Fields", "フィールド";
    FieldsHint: "Fields of the events shown, with their most frequent values: + keeps only a value, − leaves it out.", "表示中のイベントのフィールドと頻出値。+ でその値に絞り込み、− で除外します。";
    Filter: "Filter", "絞り込み";
    FilterIn: "Only", "絞り込み";
    FilterOut: "Leave out", "除外";
    Find: "Find", "検索";
    FirstSeen: "First seen", "初回検知";
    FirstSign: "First sign", "最初の兆候";
    FormTooLarge: "The form is too large.", "フォームが大きすぎます。";
    From: "From", "開始";
    Handoff: "Hand-off package", "引き継ぎパッケージ";
    Healthy: "OK", "正常";
    HistogramSkipped: "The histogram is left out: this filter is checked event by event, and counting them all would hold the results back. A field the index answers (event.code instead of EventID, for one) draws it.", "ヒストグラムは省略しました。この条件はイベントを1件ずつ確認するため、すべて数えると結果の表示が遅れます。インデックスで答えられるフィールド(EventIDの代わりにevent.codeなど)なら描画できます。";
    Hosts: "Hosts", "ホスト";
    Incident: "Incident", "インシデント";
    Incidents: "Incidents", "インシデント一覧";
    InternalError: "Something failed on the server; the log has the details under this request's id.", "サーバーでエラーが発生しました。詳細はこのリクエストのIDでログに記録されています。";
    KeyFields: "Key fields", "主なフィールド";
    Kind: "Kind", "種別";
    Language: "Language", "言語";
    LastSeen: "Last seen", "最終検知";
    LateralMovement: "Lateral movement indicators", "横展開の兆候";
    Level: "Level", "レベル";
    Login: "Log in", "ログイン";
    LoginFailed: "Wrong user name or password, or the account is locked after repeated failures.", "ユーザー名かパスワードが違うか、失敗が続いたためアカウントがロックされています。";
    Logout: "Log out", "ログアウト";
    MatchedEvents: "Matched events", "一致したイベント";
    MatchedHint: "✓ marks the fields the rule looks at.", "✓ はルールが検査するフィールドです。";
    Matches: "Matches", "一致";
    Met: "Met", "達成";
    Mine: "Mine", "自分の担当";
    Minutes: "min", "分";
    Name: "Name", "名前";
    NearBreach: "SLA at risk", "SLA超過間近";
    NeedsTriage: "The console needs triage ([triage] enabled = true).", "コンソールにはトリアージ機能が必要です([triage] enabled = true)。";
    NewAlerts: "alerts with new activity since this page was shown.", "件のアラートに、このページの表示後に新しい動きがあります。";
    NewToken: "New token (shown only now)", "新しいトークン(表示は今回のみ)";
    NextPage: "Older", "次へ";
    NoRows: "Nothing here.", "該当なし";
    NoTenantAccess: "You have no access to this tenant.", "このテナントへのアクセス権がありません。";
    TenantDisabled: "This tenant is disabled; only its admins can open it.", "このテナントは無効化されています。開けるのは管理者だけです。";
    DisplayName: "Display name", "表示名";
    Rename: "Rename", "名前を変更";
    TenantOn: "On: tokens accepted, console open", "有効: トークン受付中、コンソール利用可";
    TenantOff: "Off: tokens refused, console for admins only", "無効: トークン拒否、コンソールは管理者のみ";
    DisableTenant: "Disable this tenant", "このテナントを無効にする";
    EnableTenant: "Enable this tenant", "このテナントを有効にする";
    NewTenant: "New tenant", "新しいテナント";
    NewTenantHelp: "The name is permanent (a-z, 0-9, - and _; it is in URLs and stored events); the display name can change. You become the new tenant's admin.", "名前は変更できません(a-z、0-9、-、_。URLと保存イベントに使われます)。表示名は後から変えられます。作成したあなたが新しいテナントの管理者になります。";
    CreateTenant: "Create tenant", "テナントを作成";
    TenantOffBanner: "This tenant is disabled: its tokens are refused (403) and only admins can open its console. Switch it on again in Settings.", "このテナントは無効化されています。トークンは拒否され(403)、コンソールを開けるのは管理者だけです。設定から再び有効にできます。";
    NoTenantGranted: "No tenant is granted to you yet.", "まだどのテナントも割り当てられていません。";
    Nobody: "(nobody)", "(なし)";
    NoneYet: "none yet", "なし";
    NotFound: "Not found.", "見つかりません。";
    Note: "Note (Markdown)", "メモ(Markdown)";
    Notes: "Notes", "メモ";
    Off: "off", "無効";
    On: "on", "有効";
    Open: "Open", "未対応";
    OpenIncidents: "Open incidents", "対応中のインシデント";
    OpenQuestions: "Open questions", "未解決の疑問";
    OpenTasks: "Open tasks", "未完了タスク";
    Other: "other", "その他";
    Overview: "Overview", "概要";
    Owner: "Owner", "担当";
    PageNext: "Next page", "次のページ";
    PageOf: "page", "ページ";
    PagePrev: "Previous page", "前のページ";
    ParseErrors: "Parse errors", "解析エラー";
    Password: "Password", "パスワード";
    Paused: "Paused", "一時停止";
    ProcessingPaused: "Processing is paused: nothing new is detected and ingest refuses records (503, retry later) until it resumes by itself; nothing acknowledged is lost. Cause:", "処理が一時停止しています。自動で再開するまで新しい検知はなく、取り込みは拒否されます(503、後で再送)。受け付け済みのデータは失われません。原因:";
    Query: "Query", "クエリ";
    RateLimited: "Counted past the rate limit", "レート制限で抑止";
    RawRecord: "Raw record", "元のレコード";
    Reason: "Reason", "理由";
    RecentEvents: "Recent events (7 days)", "最近のイベント(7日間)";
    References: "References", "参考情報";
    RelatedAlerts: "Related alerts on the same entities", "同じエンティティの関連アラート";
    RelatedEntities: "Seen with", "同時に出現したエンティティ";
    RemoveColumn: "Hide the column", "列から外す";
    Results: "Results", "結果";
    Revoke: "Revoke", "失効";
    Revoked: "Revoked", "失効済み";
    RiskNow: "Risk score now", "現在のリスクスコア";
    RiskOverTime: "Risk over the last 30 days (each day's peak)", "過去30日のリスク(日ごとの最大値)";
    RiskPeak: "Peak risk score", "リスクスコアの最大値";
    Role: "Role", "ロール";
    RoleAdmin: "Admin", "管理者";
    RoleAnalyst: "Analyst", "アナリスト";
    RoleForbids: "Your role does not allow this.", "このロールではこの操作はできません。";
    RoleIngest: "Ingest", "取り込み";
    RoleLead: "SOC lead", "SOCリーダー";
    RoleRead: "Viewer", "閲覧者";
    RoleResponder: "Responder", "対応者";
    Rule: "Rule", "ルール";
    RuleFile: "Rule file", "ルールファイル";
    RuleNotLoaded: "The rule is no longer loaded.", "このルールは現在読み込まれていません。";
    RuleTest: "Test a rule against sample events", "サンプルイベントでルールをテスト";
    RuleTitle: "Rule title", "ルール名";
    RuleYaml: "Rule (Sigma YAML)", "ルール(Sigma YAML)";
    Rules: "Rules", "ルール";
    RulesMatching: "rules match", "件のルールが該当";
    Running: "Running", "計測中";
    SampleEvents: "Events (one JSON object per line)", "イベント(1行に1つのJSON)";
    Save: "Save", "保存";
    SaveSearchAs: "Save this search as", "この検索を保存:";
    SavedSearches: "Saved searches", "保存した検索";
    Scope: "Scope", "スコープ";
    Search: "Search", "検索";
    Select: "Select", "選択";
    Settings: "Settings", "設定";
    SevCritical: "Critical", "重大";
    SevHigh: "High", "高";
    SevInformational: "Info", "情報";
    SevLow: "Low", "低";
    SevMedium: "Medium", "中";
    Severity: "Severity", "重大度";
    SharedMark: "shared", "共有";
    SharedWithTenant: "shared with the tenant", "テナントで共有";
    ShowThem: "Show them", "表示する";
    SignedInAs: "Signed in as", "ログイン中:";
    Silent: "Silent", "無通信";
    Skip: "Skip to content", "本文へ移動";
    Sla: "SLA", "SLA";
    SlaAcknowledge: "Acknowledge within", "確認期限";
    SlaHint: "Targets count round the clock; business-hours calendars are set through the API (PUT /api/v1/sla-policies).", "目標時間は24時間で数えます。営業時間のカレンダーはAPI(PUT /api/v1/sla-policies)で設定します。";
    SlaPolicies: "SLA policies", "SLAポリシー";
    SlaResolve: "Resolve within", "解決期限";
    Source: "Source", "ソース";
    Sources: "Sources", "ソース";
    SourcesHealth: "Sources health", "ソースの状態";
    StAcknowledged: "Acknowledged", "確認済み";
    StClosed: "Closed", "クローズ";
    StContained: "Contained", "封じ込め済み";
    StInvestigating: "Investigating", "調査中";
    StNew: "New", "新規";
    StResolved: "Resolved", "解決済み";
    Status: "Status", "ステータス";
    Suppressed: "Suppressed", "抑制済み";
    SwitchOff: "Switch off", "無効にする";
    SwitchOn: "Switch on", "有効にする";
    TacCollection: "Collection", "収集";
    TacCommandAndControl: "Command and control", "コマンド&コントロール";
    TacCredentialAccess: "Credential access", "認証情報アクセス";
    TacDefenseEvasion: "Defense evasion", "防御回避";
    TacDiscovery: "Discovery", "探索";
    TacExecution: "Execution", "実行";
    TacExfiltration: "Exfiltration", "持ち出し";
    TacImpact: "Impact", "影響";
    TacInitialAccess: "Initial access", "初期アクセス";
    TacLateralMovement: "Lateral movement", "水平展開";
    TacNone: "No ATT&CK tactic", "ATT&CK戦術なし";
    TacPersistence: "Persistence", "永続化";
    TacPrivilegeEscalation: "Privilege escalation", "権限昇格";
    TacReconnaissance: "Reconnaissance", "偵察";
    TacResourceDevelopment: "Resource development", "リソース開発";
    Tenant: "Tenant", "テナント";
    Time: "Time", "時刻";
    TimeHint: "-24h, -7d, or a date and time in your zone", "-24h、-7d、またはあなたのタイムゾーンでの日時";
    TimeZone: "Time zone", "タイムゾーン";
    Timeline: "Timeline", "タイムライン";
    Title: "Title", "タイトル";
    TlAction: "action", "操作";
    TlAlert: "alert", "アラート";
    TlAlertJoined: "alert joined:", "アラート追加:";
    TlAssigned: "assigned to", "担当者:";
    TlEdited: "edited:", "編集:";
    TlEscalated: "escalated to", "エスカレーション先:";
    TlEvent: "event", "イベント";
    TlMergedInto: "merged into incident", "統合先インシデント:";
    TlNote: "note", "メモ";
    TlOpened: "opened the incident", "インシデントを作成";
    TlRisk: "risk score reached", "リスクスコア到達:";
    TlSla: "SLA target at risk or breached:", "SLA目標の超過または超過間近:";
    TlSplitFrom: "split off from incident", "分割元インシデント:";
    TlSplitInto: "alerts split off into incident", "アラートを分割したインシデント:";
    TlStatus: "status", "ステータス:";
    TlTaskAdded: "task added:", "タスク追加:";
    TlNotified: "notified on", "通知:";
    TlNotifyFailed: "notification failed on", "通知失敗:";
    TlPaged: "paged", "呼び出し:";
    TlPageFailed: "page failed to reach", "呼び出し失敗:";
    TlPageAcked: "page acknowledged by", "呼び出し応答:";
    Pages: "Pages", "呼び出し";
    AckPages: "Acknowledge the pages", "呼び出しに応答";
    DoneAckPages: "Pages acknowledged; nobody else is paged for it.", "呼び出しに応答しました。これ以上誰も呼び出されません。";
    PagePending: "waiting", "待機中";
    PageSent: "sent", "送信済み";
    PageStopped: "stopped", "停止";
    PageDead: "failed", "失敗";
    OnCall: "On call", "当番";
    Rota: "Rota", "ローテーション";
    AckTitle: "Acknowledge a page", "呼び出しへの応答";
    AckAsk: "Acknowledge this page? The escalation stops and the incident is taken up in your name.", "この呼び出しに応答しますか。エスカレーションは止まり、インシデントはあなたの名前で受け付けられます。";
    AckButton: "Acknowledge", "応答する";
    AckDone: "Acknowledged. Nobody else is paged for it.", "応答しました。これ以上ほかの人は呼び出されません。";
    AckAlready: "Already acknowledged by", "応答済み:";
    AckExpired: "This link has expired: acknowledge the incident in the console.", "このリンクは期限切れです。コンソールでインシデントを受け付けてください。";
    AckInvalid: "This link is not valid.", "このリンクは無効です。";
    Response: "Response", "対応";
    NoRota: "No on-call rota for this tenant.", "このテナントの当番表はありません。";
    ApprovalsInbox: "Waiting for approval", "承認待ち";
    NothingWaits: "Nothing waits for approval.", "承認待ちはありません。";
    Runs: "Playbook runs", "プレイブックの実行";
    Playbook: "Playbook", "プレイブック";
    Playbooks: "Response playbooks", "対応プレイブック";
    Steps: "Steps", "ステップ";
    Decision: "Decision", "判断";
    DecideAuto: "automatic", "自動";
    DecideApprove: "needs approval", "承認が必要";
    DecidePropose: "proposal to the CSIRT", "CSIRTへの提案";
    RunRunning: "running", "実行中";
    RunWaiting: "waiting for approval", "承認待ち";
    RunDone: "done", "完了";
    RunFailed: "failed", "失敗";
    RunStopped: "stopped", "中止";
    RunProposed: "proposed", "提案済み";
    RunReady: "ready", "実行待ち";
    RunPending: "pending", "保留";
    Approve: "Approve", "承認";
    Deny: "Deny", "却下";
    Rollback: "Roll back", "切り戻し";
    RolledBack: "rolled back", "切り戻し済み";
    Stop: "Stop", "中止";
    NeedsRole: "Approver role:", "承認者のロール:";
    Expires: "expires", "期限";
    DryRun: "Dry run", "ドライラン";
    StartPlaybook: "Start", "開始";
    DoneRun: "Done.", "完了しました。";
    PbStarted: "started", "開始";
    PbProposed: "proposed (not executed):", "提案(実行せず):";
    PbApprovalRequested: "approval requested for", "承認依頼:";
    PbApproved: "approved", "承認:";
    PbDenied: "denied", "却下:";
    PbApprovalExpired: "approval expired for", "承認期限切れ:";
    PbExecuted: "executed", "実行:";
    PbFailed: "failed at", "失敗:";
    PbRolledBack: "rolled back", "切り戻し:";
    PbStopped: "stopped", "中止";
    PbFinished: "finished", "完了";
    NotifyRoutes: "Notifications", "通知";
    Triggers: "Triggers", "契機";
    Channels: "Channels", "チャネル";
    QuietBelow: "Wait for business hours below", "営業時間まで待つ重大度(未満)";
    NotifyRoutesHint: "Empty triggers: every trigger. Channels are configured by the operator ([notify] in the server configuration).", "契機が空ならすべての契機です。チャネルは運用者がサーバー設定([notify])で定義します。";
    TlTaskDone: "task done: #", "タスク完了: #";
    TlUnassigned: "unassigned", "担当者を解除";
    TlWaiting: "waiting on the customer", "顧客の回答待ち";
    TlWaitingEnd: "no longer waiting on the customer", "顧客の回答待ちを解除";
    To: "To", "終了";
    Tokens: "API tokens", "APIトークン";
    TooManyLogins: "Too many login attempts from your address; wait a minute.", "このアドレスからのログイン試行が多すぎます。1分待ってください。";
    TopRules: "Top rules", "上位のルール";
    User: "User", "ユーザー";
    Users: "Users and roles", "ユーザーとロール";
    Value: "Value", "値";
    VersionConflict: "Someone else changed this incident; the page shows it as it is now.", "他の人がこのインシデントを変更しました。最新の内容を表示しています。";
    What: "What", "内容";
    Who: "Who", "実施者";
}

impl T {
    pub(crate) fn severity(l: Level) -> T {
        match l {
            Level::Informational => T::SevInformational,
            Level::Low => T::SevLow,
            Level::Medium => T::SevMedium,
            Level::High => T::SevHigh,
            Level::Critical => T::SevCritical,
        }
    }

    pub(crate) fn status(s: soc::Status) -> T {
        match s {
            soc::Status::New => T::StNew,
            soc::Status::Acknowledged => T::StAcknowledged,
            soc::Status::Investigating => T::StInvestigating,
            soc::Status::Contained => T::StContained,
            soc::Status::Resolved => T::StResolved,
            soc::Status::Closed => T::StClosed,
        }
    }

    pub(crate) fn disposition(d: soc::Disposition) -> T {
        match d {
            soc::Disposition::TruePositive => T::DispTruePositive,
            soc::Disposition::BenignTruePositive => T::DispBenignTruePositive,
            soc::Disposition::FalsePositive => T::DispFalsePositive,
            soc::Disposition::Duplicate => T::DispDuplicate,
        }
    }

    pub(crate) fn entity(k: soc::EntityKind) -> T {
        match k {
            soc::EntityKind::Host => T::EntHost,
            soc::EntityKind::User => T::EntUser,
            soc::EntityKind::Ip => T::EntIp,
            soc::EntityKind::Process => T::EntProcess,
            soc::EntityKind::File => T::EntFile,
            soc::EntityKind::Hash => T::EntHash,
            soc::EntityKind::Domain => T::EntDomain,
        }
    }

    pub(crate) fn role(r: Scope) -> T {
        match r {
            Scope::Ingest => T::RoleIngest,
            Scope::Read => T::RoleRead,
            Scope::Analyst => T::RoleAnalyst,
            Scope::Responder => T::RoleResponder,
            Scope::Lead => T::RoleLead,
            Scope::Admin => T::RoleAdmin,
        }
    }

    /// A timeline entry's kind (`alert`, `action`, `note`, `event`).
    pub(crate) fn timeline_kind(kind: &str) -> T {
        match kind {
            "alert" => T::TlAlert,
            "note" => T::TlNote,
            "event" => T::TlEvent,
            _ => T::TlAction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_both_languages() {
        for t in T::ALL {
            assert!(!Lang::En.t(*t).is_empty() && !Lang::Ja.t(*t).is_empty(), "{t:?}");
        }
        assert_eq!(Lang::Ja.t(T::Alerts), "アラート");
        assert_eq!(Lang::En.t(T::severity(model::Level::High)), "High");
    }

    #[test]
    fn browser_language() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(axum::http::header::ACCEPT_LANGUAGE, v.parse().unwrap());
            h
        };
        assert_eq!(Lang::choose("", &h("ja,en-US;q=0.9")), Lang::Ja);
        assert_eq!(Lang::choose("", &h("en-US,en;q=0.9,ja;q=0.8")), Lang::En);
        assert_eq!(Lang::choose("", &h("fr-FR,ja;q=0.5")), Lang::Ja);
        assert_eq!(Lang::choose("", &h("de")), Lang::En);
        assert_eq!(Lang::choose("", &HeaderMap::new()), Lang::En);
        assert_eq!(Lang::choose("en", &h("ja")), Lang::En);
        assert_eq!(Lang::choose("ja", &HeaderMap::new()), Lang::Ja);
    }
}
