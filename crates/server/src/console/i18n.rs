//! The console's words in English and Japanese. Every visible string of
//! every page comes from [`Lang::t`]; a key missing here shows as
//! `⟦key⟧`, which the page tests look for.

use axum::http::HeaderMap;

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

    /// The text for `key` in this language.
    pub(crate) fn t(self, key: &str) -> &'static str {
        match WORDS.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
            Ok(i) => match self {
                Lang::En => WORDS[i].1,
                Lang::Ja => WORDS[i].2,
            },
            Err(_) => "⟦missing⟧",
        }
    }
}

/// Key, English, Japanese; sorted by key (a test checks).
const WORDS: &[(&str, &str, &str)] = &[
    ("ack", "Acknowledge", "確認"),
    ("action", "Action", "操作"),
    ("actor", "Actor", "実施者"),
    ("add", "Add", "追加"),
    ("add_note", "Add note", "メモを追加"),
    ("add_task", "Add task", "タスクを追加"),
    ("add_user", "Add user", "ユーザーを追加"),
    ("alerts", "Alerts", "アラート"),
    ("alerts_over_time", "Alerts over the last 24 hours by severity", "過去24時間のアラート(重大度別)"),
    ("all", "All", "すべて"),
    ("apply", "Apply", "適用"),
    ("assets", "Assets", "資産"),
    ("assign", "Assign", "担当者を設定"),
    ("assignee", "Assignee", "担当者"),
    ("audit", "Audit trail", "監査ログ"),
    ("breached", "SLA breached", "SLA超過"),
    ("bulk_hint", "Apply to the incidents of the selected alerts", "選択したアラートのインシデントに適用"),
    ("business_unit", "Business unit", "部門"),
    ("bytes", "Bytes", "バイト数"),
    ("close", "Close", "クローズ"),
    ("count", "Count", "件数"),
    ("created", "Created", "作成日時"),
    ("criticality", "Criticality", "重要度"),
    ("dead_letters", "Dead letters", "デッドレター"),
    ("detections", "Detections", "検知数"),
    ("disp_benign_true_positive", "Benign true positive", "無害な真陽性"),
    ("disp_duplicate", "Duplicate", "重複"),
    ("disp_false_positive", "False positive", "誤検知"),
    ("disp_true_positive", "True positive", "真陽性"),
    ("disposition", "Disposition", "判定"),
    ("due", "Due", "期限"),
    ("entities", "Entities", "エンティティ"),
    ("eps", "Events per second", "毎秒イベント数"),
    ("error", "Error", "エラー"),
    ("escalate", "Escalate to CSIRT", "CSIRTへエスカレーション"),
    ("escalated_to", "Escalated to", "エスカレーション先"),
    ("events", "Events", "イベント"),
    ("evidence", "Evidence", "証跡"),
    ("expires", "Expires", "有効期限"),
    ("false_positive_rate", "False-positive rate", "誤検知率"),
    ("filter", "Filter", "絞り込み"),
    ("from", "From", "開始"),
    ("handoff", "Hand-off package", "引き継ぎパッケージ"),
    ("healthy", "OK", "正常"),
    ("hits", "Hits", "ヒット数"),
    ("incident", "Incident", "インシデント"),
    ("incidents", "Incidents", "インシデント一覧"),
    ("language", "Language", "言語"),
    ("last_seen", "Last seen", "最終検知"),
    ("lateral_movement", "Lateral movement indicators", "横展開の兆候"),
    ("level", "Level", "レベル"),
    (
        "locked",
        "Too many failed logins: the account is locked until",
        "ログイン失敗が多すぎるため、次の時刻までロックされています:",
    ),
    ("login", "Log in", "ログイン"),
    ("login_failed", "Wrong user name or password.", "ユーザー名またはパスワードが違います。"),
    ("logout", "Log out", "ログアウト"),
    ("matches", "Matches", "一致"),
    ("met", "Met", "達成"),
    ("name", "Name", "名前"),
    ("near_breach", "SLA at risk", "SLA超過間近"),
    ("new_token", "New token (shown only now)", "新しいトークン(表示は今回のみ)"),
    ("next_page", "Older", "次へ"),
    ("no_rows", "Nothing here.", "該当なし"),
    ("note", "Note", "メモ"),
    ("notes", "Notes", "メモ"),
    ("open", "Open", "未対応"),
    ("open_incidents", "Open incidents", "対応中のインシデント"),
    ("open_tasks", "Open tasks", "未完了タスク"),
    ("overview", "Overview", "概要"),
    ("owner", "Owner", "担当"),
    ("parse_errors", "Parse errors", "解析エラー"),
    ("password", "Password", "パスワード"),
    ("paused", "Paused", "一時停止"),
    ("query", "Query", "クエリ"),
    ("reason", "Reason", "理由"),
    ("results", "Results", "結果"),
    ("revoke", "Revoke", "失効"),
    ("revoked", "Revoked", "失効済み"),
    ("role", "Role", "ロール"),
    ("role_admin", "Admin", "管理者"),
    ("role_analyst", "Analyst", "アナリスト"),
    ("role_ingest", "Ingest", "取り込み"),
    ("role_lead", "SOC lead", "SOCリーダー"),
    ("role_read", "Viewer", "閲覧者"),
    ("role_responder", "Responder", "対応者"),
    ("rule", "Rule", "ルール"),
    ("rule_test", "Test a rule against sample events", "サンプルイベントでルールをテスト"),
    ("rule_yaml", "Rule (Sigma YAML)", "ルール(Sigma YAML)"),
    ("rules", "Rules", "ルール"),
    ("running", "Running", "計測中"),
    ("sample_events", "Events (one JSON object per line)", "イベント(1行に1つのJSON)"),
    ("save", "Save", "保存"),
    ("scope", "Scope", "スコープ"),
    ("search", "Search", "検索"),
    ("select", "Select", "選択"),
    ("settings", "Settings", "設定"),
    ("sev_critical", "Critical", "重大"),
    ("sev_high", "High", "高"),
    ("sev_informational", "Info", "情報"),
    ("sev_low", "Low", "低"),
    ("sev_medium", "Medium", "中"),
    ("severity", "Severity", "重大度"),
    ("signed_in_as", "Signed in as", "ログイン中:"),
    ("silent", "Silent", "無通信"),
    ("skip", "Skip to content", "本文へ移動"),
    ("sla", "SLA", "SLA"),
    ("sla_acknowledge", "Acknowledge within", "確認期限"),
    ("sla_policies", "SLA policies", "SLAポリシー"),
    ("sla_resolve", "Resolve within", "解決期限"),
    ("source", "Source", "ソース"),
    ("sources", "Sources", "ソース"),
    ("sources_health", "Sources health", "ソースの状態"),
    ("st_acknowledged", "Acknowledged", "確認済み"),
    ("st_closed", "Closed", "クローズ"),
    ("st_contained", "Contained", "封じ込め済み"),
    ("st_investigating", "Investigating", "調査中"),
    ("st_new", "New", "新規"),
    ("st_resolved", "Resolved", "解決済み"),
    ("status", "Status", "ステータス"),
    ("tasks", "Tasks", "タスク"),
    ("tenant", "Tenant", "テナント"),
    ("time", "Time", "時刻"),
    ("time_zone", "Time zone", "タイムゾーン"),
    ("timeline", "Timeline", "タイムライン"),
    ("title", "Title", "タイトル"),
    ("tl_action", "action", "操作"),
    ("tl_alert", "alert", "アラート"),
    ("tl_event", "event", "イベント"),
    ("tl_note", "note", "メモ"),
    ("to", "To", "終了"),
    ("tokens", "API tokens", "APIトークン"),
    ("top_rules", "Top rules", "上位のルール"),
    ("total", "Total", "合計"),
    ("user", "User", "ユーザー"),
    ("users", "Users and roles", "ユーザーとロール"),
    (
        "version_conflict",
        "Someone else changed this incident; the page shows it as it is now.",
        "他の人がこのインシデントを変更しました。最新の内容を表示しています。",
    ),
    ("waiting", "Waiting on customer", "顧客の回答待ち"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_sorted_unique_and_complete() {
        for pair in WORDS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (k, en, ja) in WORDS {
            assert!(!en.is_empty() && !ja.is_empty(), "{k}");
        }
        assert_eq!(Lang::Ja.t("alerts"), "アラート");
        assert_eq!(Lang::En.t("nope"), "⟦missing⟧");
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
