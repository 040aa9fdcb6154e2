// Client routes (spec section 11), each page lazily loaded so the first paint
// carries only the shell.
import { Center, Loader } from "@mantine/core";
import { lazy, Suspense, type ReactNode } from "react";
import { Route, Routes } from "react-router";

import { Layout } from "./components/Layout";
import { RequireAdmin, RequireUser } from "./components/RequireRole";

const Home = lazy(() => import("./pages/Home"));
const About = lazy(() => import("./pages/About"));
const Chat = lazy(() => import("./pages/Chat"));
const NotFound = lazy(() => import("./pages/NotFound"));
const Login = lazy(() => import("./pages/auth/Login"));
const Register = lazy(() => import("./pages/auth/Register"));
const ResetRequest = lazy(() => import("./pages/auth/ResetRequest"));
const ResetConfirm = lazy(() => import("./pages/auth/ResetConfirm"));
const OAuthCallback = lazy(() => import("./pages/auth/OAuthCallback"));
const ChannelList = lazy(() => import("./pages/channel/ChannelList"));
const ChannelEdit = lazy(() => import("./pages/channel/ChannelEdit"));
const TokenList = lazy(() => import("./pages/token/TokenList"));
const TokenEdit = lazy(() => import("./pages/token/TokenEdit"));
const RedemptionList = lazy(() => import("./pages/redemption/RedemptionList"));
const RedemptionEdit = lazy(() => import("./pages/redemption/RedemptionEdit"));
const TopUp = lazy(() => import("./pages/topup/TopUp"));
const UserList = lazy(() => import("./pages/user/UserList"));
const UserEdit = lazy(() => import("./pages/user/UserEdit"));
const Dashboard = lazy(() => import("./pages/dashboard/Dashboard"));
const LogList = lazy(() => import("./pages/log/LogList"));
const Settings = lazy(() => import("./pages/setting/Settings"));
const Playground = lazy(() => import("./pages/playground/Playground"));

const user = (page: ReactNode) => <RequireUser>{page}</RequireUser>;
const admin = (page: ReactNode) => <RequireAdmin>{page}</RequireAdmin>;

export function App() {
  return (
    <Suspense
      fallback={
        <Center h="50vh">
          <Loader />
        </Center>
      }
    >
      <Routes>
        <Route element={<Layout />}>
          <Route index element={<Home />} />
          <Route path="about" element={<About />} />
          <Route path="chat" element={user(<Chat />)} />
          <Route path="login" element={<Login />} />
          <Route path="register" element={<Register />} />
          <Route path="reset" element={<ResetRequest />} />
          <Route path="user/reset" element={<ResetConfirm />} />
          <Route path="oauth/:provider" element={<OAuthCallback />} />
          <Route path="channel" element={admin(<ChannelList />)} />
          <Route path="channel/add" element={admin(<ChannelEdit />)} />
          <Route path="channel/edit/:id" element={admin(<ChannelEdit />)} />
          <Route path="token" element={user(<TokenList />)} />
          <Route path="token/add" element={user(<TokenEdit />)} />
          <Route path="token/edit/:id" element={user(<TokenEdit />)} />
          <Route path="redemption" element={admin(<RedemptionList />)} />
          <Route path="redemption/add" element={admin(<RedemptionEdit />)} />
          <Route path="redemption/edit/:id" element={admin(<RedemptionEdit />)} />
          <Route path="topup" element={user(<TopUp />)} />
          <Route path="user" element={admin(<UserList />)} />
          <Route path="user/add" element={admin(<UserEdit />)} />
          <Route path="user/edit/:id" element={admin(<UserEdit />)} />
          <Route path="user/edit" element={user(<Settings />)} />
          <Route path="dashboard" element={user(<Dashboard />)} />
          <Route path="log" element={user(<LogList />)} />
          <Route path="setting" element={user(<Settings />)} />
          <Route path="playground" element={user(<Playground />)} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
